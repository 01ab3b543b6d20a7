// Package version tells which setwarden is running, from the build
// information the Go toolchain stamps into the binary, or from the release
// stamp `make dist` links in.
package version

import (
	"runtime/debug"
	"strings"
)

// The release stamp, set by `make dist` with
// -ldflags "-X github.com/setwarden/setwarden/internal/version.version=v0.4.0
// -X github.com/setwarden/setwarden/internal/version.revision=<commit>".
// A build inside the work tree has no module version in its build
// information ("(devel)"), and a release build may have no VCS information
// either (-buildvcs=false, or a source archive without .git), so the release
// says which it is itself. Empty means: read the build information.
var (
	version  string
	revision string
)

// Info is the module version and the VCS revision of the build.
type Info struct {
	// Version is the module version ("v0.4.0"), or "(devel)" for a build
	// from a work tree.
	Version string
	// Revision is the VCS commit, with "-dirty" when the work tree had
	// changes; empty when the build has no VCS information (go test, go run).
	Revision string
	// GoVersion is the Go release that built the binary.
	GoVersion string
}

// Get reads the build information of the running binary.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return stamped(Info{Version: "(unknown)"})
	}
	info := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && info.Revision != "" {
		info.Revision += "-dirty"
	}
	return stamped(info)
}

// stamped overrides info with the release stamp, where there is one.
func stamped(info Info) Info {
	if version != "" {
		info.Version = version
	}
	if revision != "" {
		info.Revision = revision
	}
	return info
}

// Short is the version with the revision, as tools show it:
// "v0.4.0", or "(devel) 1a2b3c4d5e6f-dirty".
func (i Info) Short() string {
	if i.Revision == "" {
		return i.Version
	}
	rev := i.Revision
	if len(strings.TrimSuffix(rev, "-dirty")) > 12 {
		rev = rev[:12] + strings.TrimPrefix(rev, strings.TrimSuffix(rev, "-dirty"))
	}
	return i.Version + " " + rev
}
