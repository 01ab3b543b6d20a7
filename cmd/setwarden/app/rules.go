package app

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/setwarden/setwarden/policies"
)

// allWorkloadKinds is how the text output names the kinds of a rule that
// judges every workload kind.
const allWorkloadKinds = "all workload kinds"

// ruleInfo is one rule as `setwarden rules -o json` prints it. The keys
// are public interface: they are only ever added.
type ruleInfo struct {
	ID            string          `json:"id"`
	DefaultAction policies.Action `json:"defaultAction"`
	// Kinds are the kinds the rule judges, every workload kind spelled out.
	Kinds       []string `json:"kinds"`
	Description string   `json:"description"`
	URL         string   `json:"url"`
}

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
				return writeRulesText(streams.Out)
			case "json":
				return writeRulesJSON(streams.Out)
			}
			return &exitError{code: ExitUsage, msg: fmt.Sprintf("-o %q is not supported; use text or json", output)}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", output, "output format: text or json")
	cmd.RegisterFlagCompletionFunc("output", fixedCompletion("text", "json"))
	return cmd
}

// ruleKinds names the kinds a rule judges, every workload kind when the
// rule names none.
func ruleKinds(r *policies.Rule) []string {
	var kinds []string
	for _, k := range policies.Kinds() {
		if r.AppliesTo(k.GroupKind()) {
			kinds = append(kinds, k.Kind)
		}
	}
	return kinds
}

// ruleKindsText is ruleKinds for people: "all workload kinds" when the rule
// names none.
func ruleKindsText(r *policies.Rule) string {
	if len(r.Kinds) == 0 {
		return allWorkloadKinds
	}
	return strings.Join(ruleKinds(r), ", ")
}

func writeRulesText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tDEFAULT\tKINDS\tDESCRIPTION\tDOCUMENTATION")
	for i := range policies.Rules {
		r := &policies.Rules[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.DefaultAction, ruleKindsText(r), r.Description, r.Anchor())
	}
	return tw.Flush()
}

func writeRulesJSON(w io.Writer) error {
	infos := make([]ruleInfo, len(policies.Rules))
	for i := range policies.Rules {
		r := &policies.Rules[i]
		infos[i] = ruleInfo{ID: r.ID, DefaultAction: r.DefaultAction, Kinds: ruleKinds(r), Description: r.Description, URL: r.Anchor()}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(infos)
}
