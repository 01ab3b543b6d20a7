package export

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/google/go-cmp/cmp"
	"github.com/setwarden/setwarden/policies"
)

func mustConfig(t *testing.T, doc string) *policies.Config {
	t.Helper()
	cfg, err := policies.ParseConfig([]byte("apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n" + doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func bindingOf(set *Set, name string) *admissionregistrationv1.ValidatingAdmissionPolicyBinding {
	for _, b := range set.ValidatingBindings {
		if b.Name == name {
			return b
		}
	}
	return nil
}

func TestGenerateBindsOnePolicyPerAction(t *testing.T) {
	cfg := mustConfig(t, `rules:
  statefulset-service-name: {namespaces: {legacy: Warn, lab: Audit, sandbox: "Off"}}
  statefulset-name-too-long: {action: "Off", namespaces: {strict: Deny}}
  toleration-value-fragile: {action: "Off"}
`)
	set, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		action admissionregistrationv1.ValidationAction
		op     metav1.LabelSelectorOperator
		values []string
	}{
		{"setwarden-statefulset-service-name-deny", admissionregistrationv1.Deny, metav1.LabelSelectorOpNotIn, []string{"lab", "legacy", "sandbox"}},
		{"setwarden-statefulset-service-name-warn", admissionregistrationv1.Warn, metav1.LabelSelectorOpIn, []string{"legacy"}},
		{"setwarden-statefulset-service-name-audit", admissionregistrationv1.Audit, metav1.LabelSelectorOpIn, []string{"lab"}},
		{"setwarden-statefulset-service-name-advise", admissionregistrationv1.Warn, metav1.LabelSelectorOpNotIn, []string{"lab", "sandbox"}},
		{"setwarden-statefulset-name-too-long-deny", admissionregistrationv1.Deny, metav1.LabelSelectorOpIn, []string{"strict"}},
	} {
		b := bindingOf(set, tc.name)
		if b == nil {
			t.Errorf("no binding %s", tc.name)
			continue
		}
		req := b.Spec.MatchResources.NamespaceSelector.MatchExpressions[0]
		if b.Spec.ValidationActions[0] != tc.action || req.Operator != tc.op || strings.Join(req.Values, ",") != strings.Join(tc.values, ",") {
			t.Errorf("%s: actions %v, namespaces %s %v; want %s, %s %v", tc.name, b.Spec.ValidationActions, req.Operator, req.Values, tc.action, tc.op, tc.values)
		}
	}
	for _, p := range set.Validating {
		if strings.HasPrefix(p.Name, "setwarden-toleration-value-fragile") {
			t.Errorf("rule Off everywhere exported as %s", p.Name)
		}
	}
}

func TestGenerateExemptsNamespacesAndAnnotations(t *testing.T) {
	cfg := mustConfig(t, "exemptions: {namespaces: [legacy], allowAnnotations: false}\n")
	set, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range set.Validating {
		got := p.Spec.MatchConstraints.NamespaceSelector.MatchExpressions[0].Values
		if strings.Join(got, ",") != "kube-system,legacy,setwarden-system" {
			t.Errorf("%s exempts %v", p.Name, got)
		}
		for _, c := range p.Spec.MatchConditions {
			if c.Name == "not-exempt-by-annotation" {
				t.Errorf("%s honours the exemption annotation that the PolicyConfig forbids", p.Name)
			}
		}
	}
	set, _ = Generate(nil)
	if c := set.Validating[0].Spec.MatchConditions[0]; c.Name != "not-exempt-by-annotation" || !strings.Contains(c.Expression, policies.ExemptReasonAnnotation) {
		t.Errorf("default policies do not honour the exemption annotation: %+v", c)
	}
}

func TestListCoversTheCatalogue(t *testing.T) {
	list := List()
	if len(list) != len(policies.Rules) {
		t.Fatalf("%d rules listed, the catalogue has %d", len(list), len(policies.Rules))
	}
	for _, r := range list {
		if r.Note == "" || r.Note == "not yet assessed for export" {
			t.Errorf("rule %s has no export note: add it to exporters or notExported", r.Rule)
		}
	}
}

func TestSelectorCEL(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"a": "1"}, MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "b", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"x"}}, {Key: "c", Operator: metav1.LabelSelectorOpDoesNotExist}}}
	want := `((has(o.labels) && "a" in o.labels) && o.labels["a"] == "1") && (!(has(o.labels) && "b" in o.labels) || !(o.labels["b"] in ["x"])) && !(has(o.labels) && "c" in o.labels)`
	if got := selectorCEL(sel, "o"); got != want {
		t.Errorf("selectorCEL:\n got %s\nwant %s", got, want)
	}
	if got := selectorCEL(&metav1.LabelSelector{}, "o"); got != "true" {
		t.Errorf("empty selector: %s", got)
	}
}

func TestGenerateExemptsNamedObjects(t *testing.T) {
	cfg := mustConfig(t, `exemptions:
  objects:
  - {kind: StatefulSet, namespace: vendor, name: redis, reason: "vendor chart"}
  - {kind: DaemonSet, namespace: vendor, name: agent, rules: [agent-tolerations], reason: "runs on workers only"}
`)
	set, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conditions := map[string]string{}
	for _, p := range set.Validating {
		for _, c := range p.Spec.MatchConditions {
			if c.Name == "not-exempt-by-object" {
				conditions[p.Name] = c.Expression
			}
		}
	}
	for _, p := range set.Mutating {
		for _, c := range p.Spec.MatchConditions {
			if c.Name == "not-exempt-by-object" {
				conditions[p.Name] = c.Expression
			}
		}
	}
	const (
		all    = `!(request.kind.kind + "/" + request.namespace + "/" + object.metadata.name in ["StatefulSet/vendor/redis"])`
		agents = `!(request.kind.kind + "/" + request.namespace + "/" + object.metadata.name in ["DaemonSet/vendor/agent", "StatefulSet/vendor/redis"])`
	)
	want := map[string]string{
		"setwarden-agent-tolerations":                         agents,
		"setwarden-agent-tolerations-deny":                    agents,
		"setwarden-statefulset-name-too-long-advise":          all,
		"setwarden-statefulset-name-too-long-deny":            all,
		"setwarden-statefulset-service-name-advise":           all,
		"setwarden-statefulset-service-name-deny":             all,
		"setwarden-statefulset-volume-claim-templates-advise": all,
		"setwarden-statefulset-volume-claim-templates-deny":   all,
		"setwarden-toleration-value-fragile-warn":             all,
	}
	for name := range conditions {
		if _, ok := want[name]; !ok {
			want[name] = "(unexpected)"
		}
	}
	if diff := cmp.Diff(want, conditions); diff != "" {
		t.Errorf("not-exempt-by-object conditions by policy (-want +got):\n%s", diff)
	}
}
