package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
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

// reportFull builds a report that uses every part of the format.
func reportFull() *Report {
	b := NewBuilder()
	b.KeepChecked = true
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
	return b.Report()
}

// reportFieldLines places the given field paths at lines, and no other.
func reportFieldLines(lines map[string]int) func(string) int {
	return func(path string) int { return lines[path] }
}

func TestReportRender(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		report *Report
		render func(w *bytes.Buffer, r *Report) error
	}{
		{name: "an empty check renders only the summary", golden: "empty.txt", report: NewBuilder().Report(),
			render: func(w *bytes.Buffer, r *Report) error { return Text(w, r) }},
		{name: "an empty check renders empty lists, not nulls, in JSON", golden: "empty.json", report: NewBuilder().Report(),
			render: func(w *bytes.Buffer, r *Report) error { return JSON(w, r) }},
		{name: "findings, notices, errors and every summary count render as text", golden: "full.txt", report: reportFull(),
			render: func(w *bytes.Buffer, r *Report) error { return Text(w, r) }},
		{name: "findings, notices, errors and every summary count render as JSON", golden: "full.json", report: reportFull(),
			render: func(w *bytes.Buffer, r *Report) error { return JSON(w, r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			if err := tt.render(&got, tt.report); err != nil {
				t.Fatalf("render error = %v", err)
			}
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
	r := reportFull()
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
		{name: "an empty report is not denied", got: NewBuilder().Report().Denied(), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
