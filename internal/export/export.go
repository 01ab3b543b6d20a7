// Package export turns setwarden's rules into native admission policies:
// ValidatingAdmissionPolicies for the rules CEL can check exactly from the
// object alone, and a MutatingAdmissionPolicy that adds the missing
// control-plane tolerations to agent DaemonSets. kube-apiserver then
// enforces them itself, with no webhook on the write path.
//
// Every message is rendered from the engine's own findings (the engine runs
// each rule on a sample object and the text around the variable parts
// becomes the CEL message), so a denial reads the same from either path.
package export

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/setwarden/setwarden/policies"
)

const (
	// NamePrefix starts the name of every exported object.
	NamePrefix = "setwarden-"
	// RuleLabel names the rule an exported object enforces.
	RuleLabel = "setwarden.dev/rule"
	// ActionLabel names the action an exported object's binding takes
	// (deny, warn, audit, advise for the findings capped at Warn, mutate).
	ActionLabel = "setwarden.dev/action"
	// ManagedByLabel marks every exported object.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of ManagedByLabel.
	ManagedBy = "setwarden-export"
	// NamespaceLabel is the label every namespace carries with its name.
	NamespaceLabel = "kubernetes.io/metadata.name"
)

// Set is the exported policies with their bindings.
type Set struct {
	Validating         []*admissionregistrationv1.ValidatingAdmissionPolicy
	ValidatingBindings []*admissionregistrationv1.ValidatingAdmissionPolicyBinding
	Mutating           []*admissionregistrationv1.MutatingAdmissionPolicy
	MutatingBindings   []*admissionregistrationv1.MutatingAdmissionPolicyBinding
}

// Objects returns every object in the order to apply them: each policy
// before its binding, the mutation first.
func (s *Set) Objects() []runtime.Object {
	var objs []runtime.Object
	for i := range s.Mutating {
		objs = append(objs, s.Mutating[i], s.MutatingBindings[i])
	}
	for i := range s.Validating {
		objs = append(objs, s.Validating[i], s.ValidatingBindings[i])
	}
	return objs
}

// Generate exports the rules CEL can express under cfg (DefaultConfig when
// nil). Rules that are Off everywhere export nothing.
func Generate(cfg *policies.Config) (*Set, error) {
	if cfg == nil {
		cfg = policies.DefaultConfig()
	}
	g := &generator{cfg: cfg, exempt: exemptNamespaces(cfg)}
	set := &Set{}
	if err := g.mutation(set); err != nil {
		return nil, err
	}
	for _, e := range exporters {
		rule, ok := policies.RuleByID(e.id)
		if !ok {
			return nil, fmt.Errorf("exported rule %q is not in the catalogue", e.id)
		}
		rc, err := e.build(cfg, rule)
		if err != nil {
			return nil, fmt.Errorf("exporting %s: %w", e.id, err)
		}
		g.validation(set, rule, rc)
	}
	return set, nil
}

// generator holds what every exported object shares.
type generator struct {
	cfg    *policies.Config
	exempt []string
}

// exemptNamespaces are the always-exempt and the configured namespaces.
func exemptNamespaces(cfg *policies.Config) []string {
	ns := slices.Concat(policies.AlwaysExemptNamespaces, cfg.Exemptions.Namespaces)
	slices.Sort(ns)
	return slices.Compact(ns)
}

// actionNamespaces says where a rule takes one action: everywhere but
// except, or (when except is nil) only in only.
type actionNamespaces struct {
	action       policies.Action
	only, except []string
}

// actionsOf returns the actions a rule takes under cfg, the default action
// first, each with its namespaces; Off is left out.
func actionsOf(cfg *policies.Config, rule *policies.Rule) []actionNamespaces {
	base := cfg.ActionFor(rule, "")
	overrides := cfg.Rules[rule.ID].Namespaces
	var out []actionNamespaces
	if base != policies.ActionOff {
		an := actionNamespaces{action: base, except: []string{}}
		for _, ns := range slices.Sorted(maps.Keys(overrides)) {
			if overrides[ns] != base {
				an.except = append(an.except, ns)
			}
		}
		out = append(out, an)
	}
	byAction := map[policies.Action][]string{}
	for _, ns := range slices.Sorted(maps.Keys(overrides)) {
		if a := overrides[ns]; a != base && a != policies.ActionOff {
			byAction[a] = append(byAction[a], ns)
		}
	}
	for _, a := range slices.SortedFunc(maps.Keys(byAction), func(a, b policies.Action) int { return cmp.Compare(severity(b), severity(a)) }) {
		out = append(out, actionNamespaces{action: a, only: byAction[a]})
	}
	return out
}

func severity(a policies.Action) int {
	return map[policies.Action]int{policies.ActionDeny: 3, policies.ActionWarn: 2, policies.ActionAudit: 1}[a]
}

// selector returns the namespace selector of a binding, nil for every namespace.
func (an actionNamespaces) selector() *metav1.LabelSelector {
	switch {
	case an.except == nil:
		return namespaceSelector(metav1.LabelSelectorOpIn, an.only)
	case len(an.except) > 0:
		return namespaceSelector(metav1.LabelSelectorOpNotIn, an.except)
	default:
		return nil
	}
}

func namespaceSelector(op metav1.LabelSelectorOperator, names []string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: NamespaceLabel, Operator: op, Values: names}}}
}

// objectMeta names an exported object and labels it with its rule and action.
func objectMeta(name, rule, action string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: map[string]string{ManagedByLabel: ManagedBy, RuleLabel: rule, ActionLabel: action}}
}

// PolicyName returns the name of the policy that exports a rule with an
// action ("deny", "warn", "audit", "advise").
func PolicyName(rule, action string) string { return NamePrefix + rule + "-" + action }

// lower returns the action as the policies' names spell it.
func lower(a policies.Action) string { return strings.ToLower(string(a)) }
