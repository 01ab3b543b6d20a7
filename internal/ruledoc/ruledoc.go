// Package ruledoc renders the rule catalogue for people and tools: the
// table of `setwarden rules` and the page of `setwarden explain`, with each
// rule's README section embedded in the binary.
package ruledoc

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/setwarden/setwarden"
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

// WriteTable writes the catalogue as an aligned table: ID, default action,
// kinds, description and documentation link.
func WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tDEFAULT\tKINDS\tDESCRIPTION\tDOCUMENTATION")
	for i := range policies.Rules {
		r := &policies.Rules[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.DefaultAction, ruleKindsText(r), r.Description, r.Anchor())
	}
	return tw.Flush()
}

// WriteJSON writes the catalogue as a JSON array of ruleInfo objects.
func WriteJSON(w io.Writer) error {
	infos := make([]ruleInfo, len(policies.Rules))
	for i := range policies.Rules {
		r := &policies.Rules[i]
		infos[i] = ruleInfo{ID: r.ID, DefaultAction: r.DefaultAction, Kinds: ruleKinds(r), Description: r.Description, URL: r.Anchor()}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(infos)
}

// ExplainWidth is the column the rule's text is wrapped at.
const ExplainWidth = 100

// WriteExplain prints the rule's facts, then its README section without
// the "Default: **Deny**." it already said, wrapped for a terminal.
func WriteExplain(w io.Writer, r *policies.Rule) error {
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
		b.WriteString(wrap(para, ExplainWidth))
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
