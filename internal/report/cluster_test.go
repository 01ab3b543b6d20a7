package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/setwarden/setwarden/policies"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// auditFindings is one audited object's findings: two of one rule at two
// fields (the object counts once), one of another.
var auditFindings = &policies.Report{Applicable: true, Findings: []policies.Finding{
	{Rule: policies.RuleTolerationValueFragile, Action: policies.ActionWarn,
		Err: field.Invalid(field.NewPath("spec", "tolerations").Index(0), "a", "use Exists")},
	{Rule: policies.RuleTolerationValueFragile, Action: policies.ActionWarn,
		Err: field.Invalid(field.NewPath("spec", "tolerations").Index(1), "b", "use Exists")},
	{Rule: policies.RuleStatefulSetServiceMissing, Action: policies.ActionAudit,
		Err: field.NotFound(field.NewPath("spec", "serviceName"), "db")},
}}

func TestClusterSummaryCountsObjectsPerRule(t *testing.T) {
	var out bytes.Buffer
	b := NewBuilder(NewJSON(&out))
	c := &ClusterSummary{Config: "the built-in defaults", Namespace: "shop"}
	b.SetCluster(c)
	b.AddEvaluated("", 0, reportRedis, auditFindings, nil, nil)
	b.AddEvaluated("", 0, reportPod, &policies.Report{Applicable: true, Findings: auditFindings.Findings[:1]}, nil, nil)
	c.Controlled = 4
	if _, err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []Result
		Summary Summary
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := &ClusterSummary{Config: "the built-in defaults", Namespace: "shop", Controlled: 4, Violations: []RuleViolations{
		{Rule: policies.RuleTolerationValueFragile, Objects: map[policies.Action]int{policies.ActionWarn: 2}},
		{Rule: policies.RuleStatefulSetServiceMissing, Objects: map[policies.Action]int{policies.ActionAudit: 1}},
	}}
	if diff := cmp.Diff(want, got.Summary.Cluster); diff != "" {
		t.Errorf("cluster summary (-want +got):\n%s", diff)
	}
	if len(got.Results) != 4 || got.Results[0].File != "" || got.Results[0].Line != 0 {
		t.Errorf("results %+v, want 4 without file or line", got.Results)
	}
}

func TestCheckHasNoClusterSummary(t *testing.T) {
	var out bytes.Buffer
	b := NewBuilder(NewJSON(&out))
	b.AddEvaluated("a.yaml", 1, reportRedis, auditFindings, nil, nil)
	if _, err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"cluster"`) {
		t.Errorf("check's JSON has a cluster summary:\n%s", out.String())
	}
}

func TestAuditResultsHaveNoPlace(t *testing.T) {
	t.Run("text names the object without a file", func(t *testing.T) {
		var out bytes.Buffer
		b := NewBuilder(NewText(&out, false))
		b.SetCluster(&ClusterSummary{Config: "the built-in defaults"})
		b.AddEvaluated("", 0, reportRedis, auditFindings, nil, nil)
		if _, err := b.Finish(); err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(out.String(), "\n")
		if want := "Warn toleration-value-fragile StatefulSet.apps default/redis: spec.tolerations[0]: Invalid value: \"a\": use Exists"; first != want {
			t.Errorf("first line\n%q, want\n%q", first, want)
		}
		for _, line := range []string{"  config: the built-in defaults\n", "  namespaces: all\n",
			"  objects violating now, per rule:\n    toleration-value-fragile: Warn 1\n    statefulset-service-missing: Audit 1\n"} {
			if !strings.Contains(out.String(), line) {
				t.Errorf("summary lacks %q:\n%s", line, out.String())
			}
		}
	})
	t.Run("SARIF locates the object logically only", func(t *testing.T) {
		loc := sarifLocate("", 0, &reportRedis)
		want := sarifLocation{LogicalLocations: []sarifLogical{{FullyQualifiedName: "StatefulSet.apps/default/redis", Kind: "object"}}}
		if diff := cmp.Diff(want, loc); diff != "" {
			t.Errorf("location (-want +got):\n%s", diff)
		}
	})
}
