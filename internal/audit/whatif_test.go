package audit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

func finding(rule string, action policies.Action, grandfathered bool) policies.Finding {
	return policies.Finding{Rule: rule, Action: action, Grandfathered: grandfathered,
		Err: field.Invalid(field.NewPath("spec", "x"), "v", string(action))}
}

func TestCompareSortsEachChangeByItsNewAction(t *testing.T) {
	const rule = policies.RuleTolerationValueFragile
	ref := report.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"}
	tests := []struct {
		name          string
		before, after []policies.Finding
		want          *RuleChanges // nil: no change
	}{
		{name: "a Warn rule promoted to Deny newly denies", before: []policies.Finding{finding(rule, policies.ActionWarn, false)},
			after: []policies.Finding{finding(rule, policies.ActionDeny, false)},
			want:  &RuleChanges{NewlyDenied: []Change{{From: policies.ActionWarn, To: policies.ActionDeny}}}},
		{name: "an Off rule turned to Warn newly warns", after: []policies.Finding{finding(rule, policies.ActionWarn, false)},
			want: &RuleChanges{NewlyWarned: []Change{{From: ActionNone, To: policies.ActionWarn}}}},
		{name: "a Deny rule relaxed to Warn newly warns", before: []policies.Finding{finding(rule, policies.ActionDeny, false)},
			after: []policies.Finding{finding(rule, policies.ActionWarn, false)},
			want:  &RuleChanges{NewlyWarned: []Change{{From: policies.ActionDeny, To: policies.ActionWarn}}}},
		{name: "a promotion that an update only warns about is marked grandfathered", before: []policies.Finding{finding(rule, policies.ActionAudit, false)},
			after: []policies.Finding{finding(rule, policies.ActionWarn, true)},
			want:  &RuleChanges{NewlyWarned: []Change{{From: policies.ActionAudit, To: policies.ActionWarn, Grandfathered: true}}}},
		{name: "a Warn rule turned to Audit newly audits", before: []policies.Finding{finding(rule, policies.ActionWarn, false)},
			after: []policies.Finding{finding(rule, policies.ActionAudit, false)},
			want:  &RuleChanges{NewlyAudited: []Change{{From: policies.ActionWarn, To: policies.ActionAudit}}}},
		{name: "a rule turned Off is no longer flagged", before: []policies.Finding{finding(rule, policies.ActionWarn, false)},
			want: &RuleChanges{NoLongerFlagged: []Change{{From: policies.ActionWarn, To: ActionNone}}}},
		{name: "the same action is no change", before: []policies.Finding{finding(rule, policies.ActionWarn, false)},
			after: []policies.Finding{finding(rule, policies.ActionWarn, false)}},
		{name: "several findings of a rule compare by the most severe",
			before: []policies.Finding{finding(rule, policies.ActionAudit, false), finding(rule, policies.ActionDeny, false)},
			after:  []policies.Finding{finding(rule, policies.ActionDeny, false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes := map[string]*RuleChanges{}
			compare(ref, &policies.Report{Findings: tt.before}, &policies.Report{Findings: tt.after}, changes)
			if tt.want == nil {
				if len(changes) != 0 {
					t.Errorf("changes %+v, want none", changes[rule])
				}
				return
			}
			want := RuleChanges{Rule: rule, NewlyDenied: []Change{}, NewlyWarned: []Change{}, NewlyAudited: []Change{}, NoLongerFlagged: []Change{}}
			for _, group := range []struct{ from, to *[]Change }{{&tt.want.NewlyDenied, &want.NewlyDenied},
				{&tt.want.NewlyWarned, &want.NewlyWarned}, {&tt.want.NewlyAudited, &want.NewlyAudited}, {&tt.want.NoLongerFlagged, &want.NoLongerFlagged}} {
				for _, c := range *group.from {
					shown := c.To
					if shown == ActionNone {
						shown = c.From
					}
					c.Object, c.Field, c.Message = ref, "spec.x", `Invalid value: "v": `+string(shown)
					*group.to = append(*group.to, c)
				}
			}
			if diff := cmp.Diff(&want, changes[rule]); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWhatIfPromotingARule(t *testing.T) {
	web := deployment("shop", "web", fragile)
	api := deployment("shop", "api")
	cs := fake.NewClientset(web, api, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	proposed, err := policies.ParseConfig([]byte("apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n" +
		"rules:\n  toleration-value-fragile: {action: Deny}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := WhatIf(t.Context(), WhatIfInput{Cluster: Cluster{Client: cs}, Current: policies.NewEngine(nil), Proposed: policies.NewEngine(proposed),
		CurrentSource: "the built-in defaults", ProposedSource: "file proposed.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := Totals{NewlyDenied: 1}
	if diff := cmp.Diff(wantTotals, rep.Totals); diff != "" {
		t.Errorf("totals (-want +got):\n%s", diff)
	}
	if len(rep.Rules) != 1 || rep.Rules[0].NewlyDenied[0].Object.Name != "web" {
		t.Fatalf("rules %+v", rep.Rules)
	}
	if !rep.Failed(report.FailOnDeny) || rep.Failed(report.FailOnNever) {
		t.Errorf("a newly denied object must fail --fail-on deny, and only it")
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"toleration-value-fragile: 1 newly denied, 0 newly warned, 0 newly audited, 0 no longer flagged\n" +
			"  Deny (was Warn) Deployment.apps shop/web: spec.template.spec.tolerations[0].operator: Invalid value: \"Equal\": ",
		"What if: 1 newly denied, 0 newly warned, 0 newly audited, 0 no longer flagged\n",
		"  objects violating now, per rule:\n    toleration-value-fragile: Warn 1\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}
