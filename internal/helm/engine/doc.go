// Package engine is helm.sh/helm/v3/pkg/engine (Helm v3.22.0) rendering with
// setwarden's copy of text/template (internal/helm/template) instead of the
// standard library's, so that linking it keeps the linker's dead-method
// elimination; that package's comment says why and what it saves (the
// binary 59.2 -> 42.2 MB, `setwarden serve`'s idle resident set about 44.5
// -> 37.9 MiB).
//
// engine.go, files.go, funcs.go and lookup_func.go are Helm's, unchanged but
// for that import and one conversion of sprig's text/template.FuncMap to the
// copy's FuncMap (both are map[string]any). Helm's LICENSE (Apache 2.0) is
// beside them. TestRenderLikeHelm renders charts with both engines and
// compares the output.
package engine
