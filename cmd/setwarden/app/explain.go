package app

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/setwarden/setwarden/internal/ruledoc"
	"github.com/setwarden/setwarden/policies"
)

func newExplainCommand(streams Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "explain RULE",
		Short: "Print a rule's documentation: default action, kinds and what it checks",
		Long: `Print one rule's ID, default action, the kinds it judges, its documentation
link and its documentation, from the README embedded in the binary.
"setwarden rules" lists the rule IDs.`,
		Example: "  setwarden explain statefulset-service-headless",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return policies.RuleIDs(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			rule, ok := policies.RuleByID(args[0])
			if !ok {
				return &exitError{code: ExitUsage, msg: policies.UnknownRuleMessage(args[0]) +
					"\nRule IDs: " + strings.Join(policies.RuleIDs(), ", ")}
			}
			return ruledoc.WriteExplain(streams.Out, rule)
		},
	}
}
