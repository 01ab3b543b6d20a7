// Package app wires setwarden's subcommands. It only translates between the
// command line and the policy engine; the rules live in package policies.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/setwarden/setwarden/internal/version"
)

// Exit codes shared by every subcommand.
const (
	// ExitOK: nothing was denied.
	ExitOK = 0
	// ExitDenied: at least one finding denies its object.
	ExitDenied = 1
	// ExitUsage: bad usage, bad configuration, or input that could not be
	// read; everything that could be read was still reported.
	ExitUsage = 2
)

// Streams are the standard streams a command reads and writes, so that tests
// can run commands with their own.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// exitError carries an exit code out of a command. Its message, when not
// empty, has not been printed yet.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// NewRootCommand returns the setwarden command with every subcommand. Each
// subcommand owns its flags, bound to its own options struct.
func NewRootCommand(streams Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "setwarden",
		Short: "Kubernetes admission policies for StatefulSets, tolerations and affinity",
		Long: "setwarden enforces policies on StatefulSets, agent DaemonSet tolerations and pod affinity,\n" +
			"as admission webhooks in a cluster and offline over manifests.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version prints the line of setwarden version. The flag is ours, not
	// cobra's (Command.Version with SetVersionTemplate): cobra renders a
	// version template with text/template, whose run-time method lookup
	// makes the linker keep every exported method of the program (17 MB of
	// the binary, 7 MiB of serve's resident memory; see internal/helm/template).
	root.Flags().BoolP("version", "v", false, "version for setwarden")
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if v, _ := cmd.Flags().GetBool("version"); v {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine(version.Get()))
			return err
		}
		return cmd.Help()
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	// Subcommands register here; each is built by its own file.
	root.AddCommand(
		newCheckCommand(streams),
		newServeCommand(streams),
		newVersionCommand(streams),
		newAuditCommand(streams),
		newRulesCommand(streams),
		newExplainCommand(streams),
		newExportCommand(streams),
	)
	return root
}

// Run runs setwarden with args (without the program name) and returns the
// process exit code. main calls it with os.Args; tests with their own.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRootCommand(Streams{In: stdin, Out: stdout, ErrOut: stderr})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.msg != "" {
			fmt.Fprintf(stderr, "Error: %s\n", exit.msg)
		}
		return exit.code
	}
	// Anything else comes from cobra: an unknown command or flag.
	fmt.Fprintf(stderr, "Error: %v\nRun 'setwarden --help' for usage.\n", err)
	return ExitUsage
}
