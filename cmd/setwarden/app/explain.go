package app

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/setwarden/setwarden"
	"github.com/setwarden/setwarden/policies"
)

// explainWidth is the column the rule's text is wrapped at.
const explainWidth = 100

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
			return writeExplain(streams.Out, rule)
		},
	}
}

// writeExplain prints the rule's facts, then its README section without
// the "Default: **Deny**." it already said, wrapped for a terminal.
func writeExplain(w io.Writer, r *policies.Rule) error {
	doc, _ := setwarden.RuleDoc(r.ID)
	doc = strings.TrimPrefix(doc, fmt.Sprintf("Default: **%s**. ", r.DefaultAction))
	doc = strings.ReplaceAll(doc, "**", "")
	if !strings.HasPrefix(doc, r.Description) {
		doc = strings.TrimSpace(r.Description + " " + doc)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Rule:           %s\n", r.ID)
	fmt.Fprintf(&b, "Default action: %s\n", r.DefaultAction)
	fmt.Fprintf(&b, "Kinds:          %s\n", ruleKindsText(r))
	fmt.Fprintf(&b, "Documentation:  %s\n\n", r.Anchor())
	for i, para := range strings.Split(doc, "\n\n") {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(wrap(para, explainWidth))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrap breaks a paragraph into lines of at most width columns at spaces;
// a longer word stays whole on its own line.
func wrap(para string, width int) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(para) {
		switch {
		case n == 0:
		case n+1+len(word) > width:
			b.WriteString("\n")
			n = 0
		default:
			b.WriteString(" ")
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	b.WriteString("\n")
	return b.String()
}
