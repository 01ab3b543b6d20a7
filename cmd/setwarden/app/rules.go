package app

import (
	"fmt"

	"github.com/setwarden/setwarden/internal/ruledoc"
	"github.com/spf13/cobra"
)

func newRulesCommand(streams Streams) *cobra.Command {
	output := "text"
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List the rules: ID, default action, kinds, description and documentation link",
		Long: `List every rule of the catalogue with its default action, the kinds it judges,
what it catches and the link to its documentation. -o json prints an array of
objects with the keys id, defaultAction, kinds, description and url.
"setwarden explain RULE" prints one rule's documentation.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			switch output {
			case "text":
				return ruledoc.WriteTable(streams.Out)
			case "json":
				return ruledoc.WriteJSON(streams.Out)
			}
			return &exitError{code: ExitUsage, msg: fmt.Sprintf("-o %q is not supported; use text or json", output)}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", output, "output format: text or json")
	cmd.RegisterFlagCompletionFunc("output", fixedCompletion("text", "json"))
	return cmd
}
