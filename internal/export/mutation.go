package export

import (
	"fmt"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/setwarden/setwarden/policies"
)

// MutationName is the name of the MutatingAdmissionPolicy and its binding.
const MutationName = NamePrefix + policies.RuleAgentTolerations

// tolerationsVar is the pod template's tolerations of a DaemonSet, [] when absent.
var tolerationsVar = admissionregistrationv1.Variable{Name: "tolerations",
	Expression: "has(object.spec.template.spec.tolerations) ? object.spec.template.spec.tolerations : []"}

// coveredCEL is true when one of the tolerations in list tolerates the
// taint whatever its value is, as policies.tolerationsCover decides with
// Kubernetes' matching: only `operator: Exists` matches every value, for
// the taint's key or (empty key) every key, and for the taint's effect or
// (empty effect) every effect.
// key and effect are CEL expressions.
func coveredCEL(list, key, effect string) string {
	return fmt.Sprintf(`%s.exists(t, has(t.operator) && t.operator == "Exists" && (!has(t.key) || t.key == "" || t.key == %s) && (!has(t.effect) || t.effect == "" || t.effect == %s))`,
		list, key, effect)
}

// uniqueTaints drops the repeats of a taint: the webhook adds a toleration
// once, and the one it added covers the repeat.
func uniqueTaints(taints []policies.TaintConfig) []policies.TaintConfig {
	var out []policies.TaintConfig
	for _, t := range taints {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// tolerationsPatch adds the missing tolerations with JSON Patch (an
// ApplyConfiguration cannot edit the atomic tolerations list), in the order
// of the configured taints as the webhook does: one append each to a list
// that exists, or the list itself when it is missing.
const tolerationsPatch = `size(variables.missing) == 0 ? [] :
  has(object.spec.template.spec.tolerations) ?
    variables.missing.map(t, JSONPatch{op: "add", path: "/spec/template/spec/tolerations/-",
      value: Object.spec.template.spec.tolerations{key: t.key, operator: "Exists", effect: t.effect}}) :
    [JSONPatch{op: "add", path: "/spec/template/spec/tolerations",
      value: variables.missing.map(t, Object.spec.template.spec.tolerations{key: t.key, operator: "Exists", effect: t.effect})}]`

// mutation adds the MutatingAdmissionPolicy that gives agent DaemonSets
// the tolerations they lack, wherever agent-tolerations is not Off.
func (g *generator) mutation(set *Set) error {
	rule, _ := policies.RuleByID(policies.RuleAgentTolerations)
	taints := uniqueTaints(g.cfg.ControlPlaneTaints)
	where, ok := namespacesWhere(g.cfg, rule, func(a policies.Action) bool { return a != policies.ActionOff })
	if !ok || len(taints) == 0 {
		return nil
	}
	var literals []string
	for _, t := range taints {
		literals = append(literals, fmt.Sprintf(`{"key": %s, "effect": %s}`, quote(t.Key), quote(string(t.Effect))))
	}
	missing := "[" + strings.Join(literals, ", ") + "].filter(taint, !" + coveredCEL("variables.tolerations", "taint.key", "taint.effect") + ")"
	ignore := admissionregistrationv1.Ignore
	constraints := g.matchConstraints(rule)
	if len(g.cfg.Agents.Namespaces) == 0 {
		// As the chart's mutating webhook: other DaemonSets cost nothing.
		constraints.ObjectSelector = g.cfg.Agents.Selector.DeepCopy()
	}
	p := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: objectMeta(MutationName, rule.ID, "mutate"),
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			// Ignore, as the mutating webhook: validation still catches a gap.
			FailurePolicy:      &ignore,
			ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
			MatchConstraints:   constraints,
			MatchConditions:    g.matchConditions(rule.ID, []admissionregistrationv1.MatchCondition{agentCondition(g.cfg)}),
			Variables:          []admissionregistrationv1.Variable{tolerationsVar, {Name: "missing", Expression: missing}},
			Mutations: []admissionregistrationv1.Mutation{{PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: tolerationsPatch}}},
		},
	}
	b := &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: objectMeta(MutationName, rule.ID, "mutate"),
		Spec:       admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: MutationName},
	}
	if sel := where.selector(); sel != nil {
		b.Spec.MatchResources = &admissionregistrationv1.MatchResources{NamespaceSelector: sel}
	}
	set.Mutating = append(set.Mutating, p)
	set.MutatingBindings = append(set.MutatingBindings, b)
	return nil
}
