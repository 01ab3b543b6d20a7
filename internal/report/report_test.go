package report

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/setwarden/setwarden/policies"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

var (
	reportRedis = ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "default", Name: "redis"}
	reportAgent = ObjectRef{APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: "logging", Name: "fluent-bit"}
	reportPod   = ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "ml", Name: "cuda"}
)

// reportFull fills b with a check that uses every part of the formats.
func reportFull(b *Builder) {
	b.AddNotice(Problem{File: "examples/blob.yaml", Message: "skipped: not UTF-8 text"})
	b.AddError(Problem{File: "examples/bad.yaml", Line: 7, Message: "invalid YAML: yaml: line 7: mapping values are not allowed in this context"})
	b.AddEvaluated("examples/redis.yaml", 12, reportRedis, &policies.Report{
		Applicable: true,
		Findings: []policies.Finding{
			{Rule: policies.RuleStatefulSetServiceName, Action: policies.ActionDeny,
				Err: field.Required(field.NewPath("spec", "serviceName"), "set it to a headless Service")},
			{Rule: policies.RuleStatefulSetVCTUnused, Action: policies.ActionWarn,
				Err: field.Invalid(field.NewPath("spec", "volumeClaimTemplates").Index(0).Child("metadata", "name"), "data", "mount it")},
		},
		Exempted: []policies.Finding{
			{Rule: policies.RuleStatefulSetVolumeClaimTmpls, Action: policies.ActionDeny,
				Err: field.Required(field.NewPath("spec", "volumeClaimTemplates"), "add one")},
		},
		Skipped: []policies.Skip{{Rule: policies.RuleTopologyKeyUnknown, Reason: "Nodes: no Nodes in the input"}},
	}, reportFieldLines(map[string]int{"spec.volumeClaimTemplates[0].metadata.name": 31}),
		[]string{policies.RuleStatefulSetServiceName, policies.RuleStatefulSetVolumeClaimTmpls, policies.RuleStatefulSetVCTUnused, policies.RuleTopologyKeyUnknown})
	b.AddEvaluated("<stdin>", 3, reportAgent, &policies.Report{
		Applicable: true,
		Findings: []policies.Finding{
			{Rule: policies.RuleAgentTolerations, Action: policies.ActionMutate,
				Err: field.Required(field.NewPath("spec", "template", "spec", "tolerations"), "add {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}")},
		},
		Skipped: []policies.Skip{
			{Rule: policies.RuleTopologyKeyUnknown, Reason: "Nodes: no Nodes in the input"},
			{Rule: policies.RuleNodeAffinityNoMatchingNodes, Reason: "Nodes: no Nodes in the input"},
		},
		Notices: []string{"annotation setwarden.dev/exempt is ignored: set a non-empty setwarden.dev/exempt-reason annotation"},
	}, nil, []string{policies.RuleAgentTolerations, policies.RuleNodeAffinityNoMatchingNodes, policies.RuleTopologyKeyUnknown})
	b.AddEvaluated("examples/pod.yaml", 1, reportPod, &policies.Report{
		Applicable: true,
		Findings: []policies.Finding{
			{Rule: policies.RuleAffinityDeprecatedLabel, Action: policies.ActionAudit,
				Err: field.Invalid(field.NewPath("spec", "nodeSelector").Key("beta.kubernetes.io/os"), "beta.kubernetes.io/os", "use kubernetes.io/os")},
		},
		Exempted: []policies.Finding{
			{Rule: policies.RuleAffinityDeprecatedLabel, Action: policies.ActionWarn, Err: field.Required(field.NewPath("spec"), "x")},
			{Rule: policies.RuleAffinityDeprecatedLabel, Action: policies.ActionWarn, Err: field.Required(field.NewPath("spec"), "y")},
		},
	}, reportFieldLines(map[string]int{"spec.nodeSelector[beta.kubernetes.io/os]": 9}),
		[]string{policies.RuleAffinityDeprecatedLabel, policies.RuleTolerationInvalid})
	b.AddNotEvaluated(ObjectRef{APIVersion: "v1", Kind: "Service", Name: "redis"})
	b.AddNotEvaluated(ObjectRef{APIVersion: "v1", Kind: "Service", Name: "web"})
	b.AddNotEvaluated(ObjectRef{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: "tls"})
}

// reportObject is one object as a Writer received it.
type reportObject struct {
	Checked
	results []Result
}

// reportCollector is a Writer that keeps everything, to compare the
// streamed outputs with the whole report.
type reportCollector struct {
	objects []reportObject
	report  Report
}

func (c *reportCollector) Object(obj *Checked, results []Result) error {
	c.objects = append(c.objects, reportObject{Checked: *obj, results: slices.Clone(results)})
	return nil
}

func (c *reportCollector) Finish(r *Report) error {
	c.report = *r
	c.report.Results = []Result{}
	for _, o := range c.objects {
		c.report.Results = append(c.report.Results, o.results...)
	}
	return nil
}

// reportTee is a Writer that writes to all of its Writers.
type reportTee []Writer

func (t reportTee) Object(obj *Checked, results []Result) error {
	for _, w := range t {
		if err := w.Object(obj, results); err != nil {
			return err
		}
	}
	return nil
}

func (t reportTee) Finish(r *Report) error {
	for _, w := range t {
		if err := w.Finish(r); err != nil {
			return err
		}
	}
	return nil
}

// reportRun fills a Builder with fill, streaming to the Writers, and
// returns what a reportCollector received: the whole report.
func reportRun(t *testing.T, fill func(*Builder), writers ...Writer) *reportCollector {
	t.Helper()
	c := &reportCollector{}
	b := NewBuilder(append(reportTee{c}, writers...))
	fill(b)
	if _, err := b.Finish(); err != nil {
		t.Fatalf("Finish() error = %v", err)
	}
	return c
}

func reportEmpty(*Builder) {}

// reportFieldLines places the given field paths at lines, and no other.
func reportFieldLines(lines map[string]int) func(string) int {
	return func(path string) int { return lines[path] }
}

func TestReportRender(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		fill   func(*Builder)
		writer func(io.Writer) Writer
	}{
		{name: "an empty check renders only the summary", golden: "empty.txt", fill: reportEmpty,
			writer: func(w io.Writer) Writer { return NewText(w, false) }},
		{name: "an empty check renders empty lists, not nulls, in JSON", golden: "empty.json", fill: reportEmpty, writer: NewJSON},
		{name: "findings, notices, errors and every summary count render as text", golden: "full.txt", fill: reportFull,
			writer: func(w io.Writer) Writer { return NewText(w, false) }},
		{name: "findings, notices, errors and every summary count render as JSON", golden: "full.json", fill: reportFull, writer: NewJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			reportRun(t, tt.fill, tt.writer(&got))
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run the tests with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("output differs from %s (-want +got); if the change is intended, run with -update:\n%s", path, diff)
			}
		})
	}
}

func TestReportBuilder(t *testing.T) {
	r := &reportRun(t, reportFull).report
	empty, _ := NewBuilder(nil).Finish()
	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "every object is counted, evaluated or not", got: []int{r.Summary.Objects, r.Summary.Evaluated}, want: []int{6, 3}},
		{name: "objects no rule applies to are counted by kind and group", got: r.Summary.NotEvaluated,
			want: map[string]int{"Service": 2, "Certificate.cert-manager.io": 1}},
		{name: "every action is counted, zero included", got: r.Summary.ByAction,
			want: map[policies.Action]int{"Deny": 1, "Warn": 1, "Audit": 1, "Mutate": 1}},
		{name: "exempted findings are counted by rule and not listed", got: r.Summary.Exempted,
			want: map[string]int{policies.RuleStatefulSetVolumeClaimTmpls: 1, policies.RuleAffinityDeprecatedLabel: 2}},
		{name: "a rule skipped on several objects is listed once with its count, in catalogue order", got: r.Summary.Skipped,
			want: []Skipped{
				{Rule: policies.RuleNodeAffinityNoMatchingNodes, Reason: "Nodes: no Nodes in the input", Objects: 1},
				{Rule: policies.RuleTopologyKeyUnknown, Reason: "Nodes: no Nodes in the input", Objects: 2},
			}},
		{name: "the field is the full path and the message is the error body", got: r.Results[1],
			want: Result{Rule: policies.RuleStatefulSetVCTUnused, Action: policies.ActionWarn, Object: reportRedis,
				Field: "spec.volumeClaimTemplates[0].metadata.name", Message: `Invalid value: "data": mount it`,
				File: "examples/redis.yaml", Line: 12, FieldLine: 31}},
		{name: "a field the reader cannot place is located at the object's line", got: r.Results[0].FieldLine, want: 12},
		{name: "the errors count is the length of the errors list", got: r.Summary.Errors, want: 1},
		{name: "a report with a Deny is denied", got: r.Denied(), want: true},
		{name: "an empty report is not denied", got: empty.Denied(), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
