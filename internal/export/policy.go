package export

import (
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/setwarden/setwarden/policies"
)

// ruleCEL is one rule in CEL.
type ruleCEL struct {
	// conditions narrow the objects the rule judges (agent DaemonSets).
	conditions []admissionregistrationv1.MatchCondition
	variables  []admissionregistrationv1.Variable
	// checks take the rule's configured action.
	checks []check
	// capped are reported at most as warnings: advice, and on UPDATE the
	// violations the old object already had (grandfathered).
	capped []check
}

// check is one finding a rule can report.
type check struct {
	// expr is a CEL expression that is true when the object passes.
	expr string
	// full is the finding as a denial renders it, "path: Type: detail
	// (rule ID)"; short is the warning, "rule-id: detail", at most 256
	// bytes. Both are CEL expressions or, when static, plain text.
	full, short message
}

// message is a static text or a CEL string expression.
type message struct {
	text, expr string
}

// validation returns the check as a Validation with the full or short text.
func (c check) validation(short bool) admissionregistrationv1.Validation {
	m := c.full
	if short {
		m = c.short
	}
	if m.expr != "" {
		return admissionregistrationv1.Validation{Expression: c.expr, MessageExpression: m.expr}
	}
	return admissionregistrationv1.Validation{Expression: c.expr, Message: m.text}
}

// truncateCEL cuts a CEL string expression as policies.Warning does. The texts it
// is used on are ASCII (label keys and values), so characters are bytes.
func truncateCEL(expr string) string {
	return "((" + expr + ").size() > " + strconv.Itoa(policies.MaxWarningLength) + " ? (" + expr + ").substring(0, " +
		strconv.Itoa(policies.MaxWarningLength-3) + ") + \"...\" : (" + expr + "))"
}

// quote returns s as a CEL string literal.
func quote(s string) string { return strconv.Quote(s) }

// quoteList returns a CEL list literal of strings.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// staticCheck is a check whose texts are fixed, from the engine's finding.
func staticCheck(expr, ruleID, full, detail string) check {
	return check{expr: expr, full: message{text: full + " (rule " + ruleID + ")"}, short: message{text: policies.Warning(ruleID, detail)}}
}

// resourceRules returns the rules matching the kinds a rule judges.
func resourceRules(rule *policies.Rule) []admissionregistrationv1.NamedRuleWithOperations {
	var out []admissionregistrationv1.NamedRuleWithOperations
	scope := admissionregistrationv1.NamespacedScope
	for _, k := range policies.Kinds() {
		if !rule.AppliesTo(k.GroupKind()) {
			continue
		}
		i := slices.IndexFunc(out, func(r admissionregistrationv1.NamedRuleWithOperations) bool {
			return r.APIGroups[0] == k.Group && r.APIVersions[0] == k.Version
		})
		if i < 0 {
			out = append(out, admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{k.Group}, APIVersions: []string{k.Version}, Scope: &scope},
			}})
			i = len(out) - 1
		}
		out[i].Resources = append(out[i].Resources, k.Resource)
	}
	return out
}

// notExemptCondition is false for an object that exempts itself from the
// rule with the exemption annotation and a non-empty reason, as the engine
// reads them.
func notExemptCondition(ruleID string) admissionregistrationv1.MatchCondition {
	a := "object.metadata.annotations"
	exempt, reason := quote(policies.ExemptAnnotation), quote(policies.ExemptReasonAnnotation)
	return admissionregistrationv1.MatchCondition{Name: "not-exempt-by-annotation", Expression: "!has(" + a + ") || !(" + exempt + " in " + a + ") || !(" + reason + " in " + a + ") || " +
		a + "[" + reason + "].trim() == \"\" || !" + a + "[" + exempt + "].split(\",\").exists(id, id.trim() == \"*\" || id.trim() == " + quote(ruleID) + ")"}
}

// notExemptObjectCondition is false for the objects the PolicyConfig
// exempts from the rule by kind, namespace and name (exemptions.objects), as
// the engine matches them; ok is false when it exempts none from the rule.
func notExemptObjectCondition(objects []policies.ObjectExemption, ruleID string) (c admissionregistrationv1.MatchCondition, ok bool) {
	var keys []string
	for _, x := range objects {
		if len(x.Rules) == 0 || slices.Contains(x.Rules, ruleID) {
			keys = append(keys, x.Kind+"/"+x.Namespace+"/"+x.Name)
		}
	}
	if len(keys) == 0 {
		return c, false
	}
	slices.Sort(keys)
	return admissionregistrationv1.MatchCondition{Name: "not-exempt-by-object",
		Expression: `!(request.kind.kind + "/" + request.namespace + "/" + object.metadata.name in ` + quoteList(slices.Compact(keys)) + ")"}, true
}

// matchConditions are the exemption by annotation, when the PolicyConfig
// allows it, the exemption of named objects, and the rule's own conditions.
func (g *generator) matchConditions(ruleID string, own []admissionregistrationv1.MatchCondition) []admissionregistrationv1.MatchCondition {
	var out []admissionregistrationv1.MatchCondition
	if *g.cfg.Exemptions.AllowAnnotations {
		out = append(out, notExemptCondition(ruleID))
	}
	if c, ok := notExemptObjectCondition(g.cfg.Exemptions.Objects, ruleID); ok {
		out = append(out, c)
	}
	return append(out, own...)
}

// matchConstraints match a rule's kinds outside the exempt namespaces.
func (g *generator) matchConstraints(rule *policies.Rule) *admissionregistrationv1.MatchResources {
	equivalent := admissionregistrationv1.Equivalent
	return &admissionregistrationv1.MatchResources{
		NamespaceSelector: namespaceSelector(metav1.LabelSelectorOpNotIn, g.exempt),
		ResourceRules:     resourceRules(rule),
		MatchPolicy:       &equivalent,
	}
}

// validation adds a rule's policies and bindings: one per action the rule
// takes, and one for the findings capped at Warn.
func (g *generator) validation(set *Set, rule *policies.Rule, rc *ruleCEL) {
	actions := actionsOf(g.cfg, rule)
	add := func(action string, va admissionregistrationv1.ValidationAction, sel *metav1.LabelSelector, checks []check, short bool) {
		name := PolicyName(rule.ID, action)
		fail := admissionregistrationv1.Fail
		p := &admissionregistrationv1.ValidatingAdmissionPolicy{
			ObjectMeta: objectMeta(name, rule.ID, action),
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				FailurePolicy:    &fail,
				MatchConstraints: g.matchConstraints(rule),
				MatchConditions:  g.matchConditions(rule.ID, rc.conditions),
				Variables:        rc.variables,
			},
		}
		for _, c := range checks {
			p.Spec.Validations = append(p.Spec.Validations, c.validation(short))
		}
		b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			ObjectMeta: objectMeta(name, rule.ID, action),
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name,
				ValidationActions: []admissionregistrationv1.ValidationAction{va}},
		}
		if sel != nil {
			b.Spec.MatchResources = &admissionregistrationv1.MatchResources{NamespaceSelector: sel}
		}
		set.Validating = append(set.Validating, p)
		set.ValidatingBindings = append(set.ValidatingBindings, b)
	}
	for _, an := range actions {
		add(lower(an.action), admissionregistrationv1.ValidationAction(an.action), an.selector(), rc.checks, an.action == policies.ActionWarn)
	}
	if len(rc.capped) == 0 {
		return
	}
	// Capped findings are warned about where the rule denies or warns, and
	// only counted where it audits, which a native policy cannot do.
	warned := func(a policies.Action) bool { return a == policies.ActionDeny || a == policies.ActionWarn }
	if an, ok := namespacesWhere(g.cfg, rule, warned); ok {
		add("advise", admissionregistrationv1.Warn, an.selector(), rc.capped, true)
	}
}

// namespacesWhere returns the namespaces where a rule's action satisfies
// pred, and false when there are none.
func namespacesWhere(cfg *policies.Config, rule *policies.Rule, pred func(policies.Action) bool) (actionNamespaces, bool) {
	an := actionNamespaces{}
	base := pred(cfg.ActionFor(rule, ""))
	if base {
		an.except = []string{}
	}
	for ns, a := range cfg.Rules[rule.ID].Namespaces {
		switch {
		case base && !pred(a):
			an.except = append(an.except, ns)
		case !base && pred(a):
			an.only = append(an.only, ns)
		}
	}
	slices.Sort(an.except)
	slices.Sort(an.only)
	return an, base || len(an.only) > 0
}

// agentCondition is true for an agent DaemonSet: its own labels match the
// agent selector, or it lives in an agent namespace.
func agentCondition(cfg *policies.Config) admissionregistrationv1.MatchCondition {
	expr := selectorCEL(cfg.Agents.Selector, "object.metadata")
	if len(cfg.Agents.Namespaces) > 0 {
		expr = "request.namespace in " + quoteList(cfg.Agents.Namespaces) + " || (" + expr + ")"
	}
	return admissionregistrationv1.MatchCondition{Name: "agent-daemonset", Expression: expr}
}

// selectorCEL returns a CEL expression that is true when the labels of
// meta match sel, as labels.Selector.Matches decides.
func selectorCEL(sel *metav1.LabelSelector, meta string) string {
	labels := meta + ".labels"
	has := func(k string) string { return "(has(" + labels + ") && " + quote(k) + " in " + labels + ")" }
	var terms []string
	for _, k := range sets.List(sets.KeySet(sel.MatchLabels)) {
		terms = append(terms, "("+has(k)+" && "+labels+"["+quote(k)+"] == "+quote(sel.MatchLabels[k])+")")
	}
	for _, r := range sel.MatchExpressions {
		switch r.Operator {
		case metav1.LabelSelectorOpIn:
			terms = append(terms, "("+has(r.Key)+" && "+labels+"["+quote(r.Key)+"] in "+quoteList(r.Values)+")")
		case metav1.LabelSelectorOpNotIn:
			terms = append(terms, "(!"+has(r.Key)+" || !("+labels+"["+quote(r.Key)+"] in "+quoteList(r.Values)+"))")
		case metav1.LabelSelectorOpExists:
			terms = append(terms, has(r.Key))
		case metav1.LabelSelectorOpDoesNotExist:
			terms = append(terms, "!"+has(r.Key))
		}
	}
	if len(terms) == 0 {
		return "true"
	}
	return strings.Join(terms, " && ")
}
