package app

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/setwarden/setwarden/internal/version"
)

func newVersionCommand(streams Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version and VCS revision of this binary",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(streams.Out, versionLine(version.Get()))
			return err
		},
	}
}

// versionLine is what `setwarden version` and --version print:
// "setwarden v0.4.0 (revision 1a2b3c4d5e6f, go1.26.10)".
func versionLine(v version.Info) string {
	rev := v.Revision
	if rev == "" {
		rev = "unknown"
	}
	return fmt.Sprintf("setwarden %s (revision %s, %s)", v.Version, rev, v.GoVersion)
}
