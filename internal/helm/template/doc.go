// Package template is Go's text/template (go1.26.10, src/text/template) with
// one change: a template calls only methods whose name is in the list in
// methods.go. It exists so that setwarden can render Helm charts in-process
// without giving up the linker's dead-method elimination.
//
// text/template looks methods up with reflect.Value.MethodByName(name) for
// a name it learns at run time. When such a call is reachable, the Go
// linker cannot tell which methods may be called, and keeps every exported
// method of every type that is converted to an interface anywhere in the
// program: with client-go, controller-runtime and k8s.io/api linked, that is
// about 17 MB of code, type data and pclntab that nothing runs. Package init
// and start-up still touch pages all over the binary, and the kernel maps
// 64 KiB around each fault, so the dead code shows up as resident memory in
// every `setwarden serve`, not only in `setwarden check`. Here evalField
// calls methodByName, a switch whose every case calls MethodByName with a
// constant, which the linker follows by name.
//
// The names are every exported method of every type a Helm template can
// reach: the render values that helm.sh/helm/v3/pkg/chartutil builds, the
// chart's Files, and what the template functions (sprig and Helm's own)
// return, closed over the fields and method results of those types. The
// engine package's tests compute that set by reflection and compare it with
// methods.go (go test ./internal/helm/engine -run TestMethodNames -update
// rewrites it), so an upgrade of Helm or sprig that adds a method fails a
// test instead of rendering differently. A method outside the list is
// looked up as a field or map key instead, as text/template does for a
// name that is not a method.
//
// Measured with the shipped build (CGO_ENABLED=0, -trimpath, -ldflags="-s
// -w") of `setwarden serve` against a real kube-apiserver, 5 s after ready,
// the builds before and after this package running side by side, in two
// runs (the --version flag also stopped using a cobra template, which
// reached text/template too): the binary shrinks from 59.2 MB to 42.2 MB;
// the idle resident set from 44.3-45.0 MiB (RssFile 36.2-36.8) to
// 37.6-38.2 MiB (RssFile 29.9-30.2); with 10,000 Services and 1,000 Nodes
// cached, from 79.7-80.0 MiB (RssFile 37.0-37.5) to 74.8-76.9 MiB (RssFile
// 30.5-30.9; the rest is the Go heap, which varies from run to run). Idle,
// the anonymous memory is the same (7.7-8.2 MiB). TestMemoryAndStartup then
// measured 37.4 MiB idle and 75.7 MiB with the cache full (targets 40 and
// 80 MiB).
//
// The copy does not get the standard library's fixes by itself: when
// go.mod's toolchain line moves, copy text/template (and internal/fmtsort)
// of that release again and keep the lines marked "changed by setwarden"
// (the fmtsort import, the methodByName call in evalField, and a comment of
// fmtsort cut short of a tracker reference); TestCopiesMatchTheirUpstream
// in internal/helm/engine fails until the copy matches. It passes text/template's own tests
// when methodByName is v.MethodByName(name); with the list, only the tests
// that call methods of their own test types fail.
//
// The other files are text/template's, unchanged but for the import of
// fmtsort, which is internal to the standard library and copied here.
// Parsing is text/template/parse's, used as it is.
package template
