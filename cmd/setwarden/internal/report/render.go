package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/setwarden/setwarden/policies"
	"sigs.k8s.io/yaml"
)

// actionOrder is the order actions are listed in summaries, most severe first.
var actionOrder = []policies.Action{policies.ActionDeny, policies.ActionWarn, policies.ActionAudit, policies.ActionMutate}

// JSON writes the report as one indented JSON document.
func JSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "<stdin>" stays readable
	return enc.Encode(r)
}

// YAML writes the report in the shape of the JSON output, as YAML.
func YAML(w io.Writer, r *Report) error {
	data, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// ANSI colours of the text output, by action; the words stay, so nothing is
// lost without colour.
var actionColors = map[policies.Action]string{
	policies.ActionDeny: "\x1b[1;31m", policies.ActionWarn: "\x1b[33m",
	policies.ActionAudit: "\x1b[36m", policies.ActionMutate: "\x1b[35m",
}

const (
	colorError = "\x1b[1;31m"
	colorDim   = "\x1b[2m"
	colorReset = "\x1b[0m"
)

// Text writes the report for people and grep, without colour: one line per
// finding, in the grammar of compilers and kubectl,
//
//	FILE:LINE: ACTION RULE KIND.GROUP NAMESPACE/NAME: FIELD: Type: detail
//
// then one "FILE:LINE: notice: ..." line per notice, one
// "FILE:LINE: error: ..." line per input error, and a summary.
func Text(w io.Writer, r *Report) error { return WriteText(w, r, false) }

// ColorText is Text with the actions, notices and errors coloured, for a
// terminal.
func ColorText(w io.Writer, r *Report) error { return WriteText(w, r, true) }

// WriteText writes the text report, coloured when color is set.
func WriteText(w io.Writer, r *Report, color bool) error {
	paint := func(code, s string) string {
		if !color || code == "" {
			return s
		}
		return code + s + colorReset
	}
	var b strings.Builder
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%s: %s %s %s %s: %s\n", paint(colorDim, place(res.File, res.Line)), paint(actionColors[res.Action], string(res.Action)), res.Rule,
			res.Object.KindGroup(), res.Object.NamespacedName(), joinNonEmpty(": ", res.Field, res.Message))
	}
	for _, n := range r.Summary.Notices {
		fmt.Fprintf(&b, "%s: %s: %s\n", paint(colorDim, place(n.File, n.Line)), paint(colorDim, "notice"), withObject(n))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "%s: %s: %s\n", paint(colorDim, place(e.File, e.Line)), paint(colorError, "error"), withObject(e))
	}
	writeSummary(&b, &r.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeSummary(b *strings.Builder, s *Summary) {
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	b.WriteString("Summary:\n")
	fmt.Fprintf(b, "  objects: %d read, %d evaluated", s.Objects, s.Evaluated)
	if len(s.NotEvaluated) > 0 {
		fmt.Fprintf(b, "; not evaluated: %s", countList(s.NotEvaluated, sortedKeys(s.NotEvaluated)))
	}
	b.WriteString("\n")
	actions := make([]string, len(actionOrder))
	for i, a := range actionOrder {
		actions[i] = fmt.Sprintf("%s %d", a, s.ByAction[a])
	}
	fmt.Fprintf(b, "  findings: %s\n", strings.Join(actions, ", "))
	fmt.Fprintf(b, "  exempted: %s\n", orNone(countList(s.Exempted, ruleOrder(s.Exempted))))
	fmt.Fprintf(b, "  skipped for lack of data: %s\n", orNone(skippedList(s.Skipped)))
	fmt.Fprintf(b, "  notices: %d\n", len(s.Notices))
	fmt.Fprintf(b, "  input errors: %d\n", s.Errors)
}

// skippedList groups skipped rules by reason: "a, b (reason); c (other)".
func skippedList(skipped []Skipped) string {
	var reasons []string
	byReason := map[string][]string{}
	for _, sk := range skipped {
		if _, ok := byReason[sk.Reason]; !ok {
			reasons = append(reasons, sk.Reason)
		}
		byReason[sk.Reason] = append(byReason[sk.Reason], sk.Rule)
	}
	parts := make([]string, len(reasons))
	for i, reason := range reasons {
		parts[i] = fmt.Sprintf("%s (%s)", strings.Join(byReason[reason], ", "), reason)
	}
	return strings.Join(parts, "; ")
}

func countList(counts map[string]int, keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// ruleOrder returns the rule IDs among m's keys in catalogue order.
func ruleOrder(m map[string]int) []string {
	var keys []string
	for _, id := range policies.RuleIDs() {
		if _, ok := m[id]; ok {
			keys = append(keys, id)
		}
	}
	return keys
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func place(file string, line int) string {
	if line == 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}

func withObject(p Problem) string {
	if p.Object == nil {
		return p.Message
	}
	return fmt.Sprintf("%s %s: %s", p.Object.KindGroup(), p.Object.NamespacedName(), p.Message)
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
