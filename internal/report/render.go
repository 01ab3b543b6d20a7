package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/setwarden/setwarden/policies"
	goyaml "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// actionOrder is the order actions are listed in summaries, most severe first.
var actionOrder = []policies.Action{policies.ActionDeny, policies.ActionWarn, policies.ActionAudit, policies.ActionMutate}

// jsonWriter streams the report as one indented JSON document, the
// results first, as encoding/json writes the Report.
type jsonWriter struct {
	bw      *bufio.Writer
	results *jsonArray
	started bool
}

// NewJSON returns a Writer of the report as one indented JSON document,
// in the documented shape {"results":[...],"summary":{...},"errors":[...]}.
func NewJSON(w io.Writer) Writer {
	bw := bufio.NewWriter(w)
	return &jsonWriter{bw: bw, results: newJSONArray(bw, 2)}
}

func (j *jsonWriter) start() {
	if !j.started {
		j.started = true
		j.bw.WriteString("{\n  \"results\": [")
	}
}

func (j *jsonWriter) Object(_ *Checked, results []Result) error {
	j.start()
	for i := range results {
		if err := j.results.add(&results[i]); err != nil {
			return err
		}
	}
	return nil
}

// jsonTail is what follows the results in the JSON document.
type jsonTail struct {
	Summary Summary   `json:"summary"`
	Errors  []Problem `json:"errors"`
}

func (j *jsonWriter) Finish(r *Report) error {
	j.start()
	tail, err := encodeIndented(jsonTail{Summary: r.Summary, Errors: nonNil(r.Errors)})
	if err != nil {
		return err
	}
	j.bw.WriteString(j.results.end())
	j.bw.WriteString(",")
	j.bw.Write(tail[1:]) // without its "{": it continues the document
	return j.bw.Flush()
}

// nonNil makes a nil list render as [], as the documented shape has it.
func nonNil(ps []Problem) []Problem {
	if ps == nil {
		return []Problem{}
	}
	return ps
}

// yamlWriter streams the report in the shape of the JSON output, as YAML.
// YAML sorts the keys, so the results come after the errors, which are
// only known at the end: they wait in a temporary file.
type yamlWriter struct {
	w       io.Writer
	results spool
}

// NewYAML returns a Writer of the report in the shape of the JSON output,
// as YAML.
func NewYAML(w io.Writer) Writer {
	return &yamlWriter{w: w, results: spool{pattern: "setwarden-yaml-*"}}
}

func (y *yamlWriter) Object(_ *Checked, results []Result) error {
	for i := range results {
		// A list of one renders as the list's item does inside the
		// document: YAML does not indent a list under its key.
		data, err := goyaml.Marshal([]goyaml.MapSlice{yamlResult(&results[i])})
		if err != nil {
			return err
		}
		if _, err := y.results.Write(data); err != nil {
			return err
		}
	}
	return nil
}

// yamlResult is r as sigs.k8s.io/yaml renders it, without its round trip
// through JSON, which took most of the YAML output's time: the keys of r's
// JSON object, sorted, with the strings made valid UTF-8 as encoding/json
// makes them. TestYAMLResultIsSigsYAML keeps the two the same.
func yamlResult(r *Result) goyaml.MapSlice {
	object := goyaml.MapSlice{{Key: "apiVersion", Value: jsonText(r.Object.APIVersion)}, {Key: "kind", Value: jsonText(r.Object.Kind)},
		{Key: "name", Value: jsonText(r.Object.Name)}}
	if r.Object.Namespace != "" {
		object = append(object, goyaml.MapItem{Key: "namespace", Value: jsonText(r.Object.Namespace)})
	}
	return goyaml.MapSlice{{Key: "action", Value: jsonText(string(r.Action))}, {Key: "field", Value: jsonText(r.Field)},
		{Key: "file", Value: jsonText(r.File)}, {Key: "line", Value: r.Line}, {Key: "message", Value: jsonText(r.Message)},
		{Key: "object", Value: object}, {Key: "rule", Value: jsonText(r.Rule)}}
}

// jsonText returns s as encoding/json writes it: each byte of invalid
// UTF-8 becomes U+FFFD.
func jsonText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}

func (y *yamlWriter) Finish(r *Report) error {
	err := y.write(r)
	if rerr := y.results.remove(); err == nil {
		err = rerr
	}
	return err
}

func (y *yamlWriter) write(r *Report) error {
	head, err := yaml.Marshal(struct {
		Errors []Problem `json:"errors"`
	}{nonNil(r.Errors)})
	if err != nil {
		return err
	}
	tail, err := yaml.Marshal(struct {
		Summary Summary `json:"summary"`
	}{r.Summary})
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(y.w)
	bw.Write(head)
	if y.results.size == 0 {
		bw.WriteString("results: []\n")
	} else {
		bw.WriteString("results:\n")
		if err := y.results.copyTo(bw, 0, y.results.size); err != nil {
			return err
		}
	}
	bw.Write(tail)
	return bw.Flush()
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

// textWriter streams the text report: the findings as they come, then
// the notices, errors and summary.
type textWriter struct {
	bw    *bufio.Writer
	color bool
	wrote bool // whether a line precedes the summary
}

// NewText returns a Writer of the report for people and grep, coloured
// when color is set (for a terminal; the words stay, so nothing is lost
// without colour): one line per finding, in the grammar of compilers and
// kubectl,
//
//	FILE:LINE: ACTION RULE KIND.GROUP NAMESPACE/NAME: FIELD: Type: detail
//
// then one "FILE:LINE: notice: ..." line per notice, one
// "FILE:LINE: error: ..." line per input error, and a summary.
func NewText(w io.Writer, color bool) Writer {
	return &textWriter{bw: bufio.NewWriter(w), color: color}
}

func (t *textWriter) paint(code, s string) string {
	if !t.color || code == "" {
		return s
	}
	return code + s + colorReset
}

func (t *textWriter) Object(_ *Checked, results []Result) error {
	for _, res := range results {
		t.wrote = true
		if at := place(res.File, res.Line); at != "" { // an audit's results have no file
			fmt.Fprintf(t.bw, "%s: ", t.paint(colorDim, at))
		}
		fmt.Fprintf(t.bw, "%s %s %s %s: %s\n", t.paint(actionColors[res.Action], string(res.Action)), res.Rule,
			res.Object.KindGroup(), res.Object.NamespacedName(), joinNonEmpty(": ", res.Field, res.Message))
	}
	return nil
}

func (t *textWriter) Finish(r *Report) error {
	var b strings.Builder
	for _, n := range r.Summary.Notices {
		fmt.Fprintf(&b, "%s: %s: %s\n", t.paint(colorDim, place(n.File, n.Line)), t.paint(colorDim, "notice"), withObject(n))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "%s: %s: %s\n", t.paint(colorDim, place(e.File, e.Line)), t.paint(colorError, "error"), withObject(e))
	}
	if t.wrote || b.Len() > 0 {
		b.WriteString("\n")
	}
	writeSummary(&b, &r.Summary)
	t.bw.WriteString(b.String())
	return t.bw.Flush()
}

// SummaryText returns the text report's summary: "Summary:" and its lines.
func SummaryText(s *Summary) string {
	var b strings.Builder
	writeSummary(&b, s)
	return b.String()
}

func writeSummary(b *strings.Builder, s *Summary) {
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
	if s.Cluster != nil {
		writeClusterSummary(b, s.Cluster)
	}
}

// writeClusterSummary writes an audit's part of the summary.
func writeClusterSummary(b *strings.Builder, c *ClusterSummary) {
	fmt.Fprintf(b, "  config: %s\n", c.Config)
	namespace := "all"
	if c.Namespace != "" {
		namespace = c.Namespace
	}
	fmt.Fprintf(b, "  namespaces: %s\n", namespace)
	fmt.Fprintf(b, "  controlled objects (judged through their controller): %d\n", c.Controlled)
	b.WriteString("  objects violating now, per rule:")
	if len(c.Violations) == 0 {
		b.WriteString(" none\n")
		return
	}
	b.WriteString("\n")
	for _, v := range c.Violations {
		var counts []string
		for _, a := range actionOrder {
			if n := v.Objects[a]; n > 0 {
				counts = append(counts, fmt.Sprintf("%s %d", a, n))
			}
		}
		fmt.Fprintf(b, "    %s: %s\n", v.Rule, strings.Join(counts, ", "))
	}
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
