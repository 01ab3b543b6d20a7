// Package version tells which setwarden is running, from the build
// information the Go toolchain stamps into the binary.
package version

import (
	"runtime/debug"
	"strings"
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
		return Info{Version: "(unknown)"}
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
