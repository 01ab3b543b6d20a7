package export

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/setwarden/setwarden/policies"
)

// Support says how far a rule is exported.
type Support string

const (
	// Exported: every finding of the rule, with the engine's text.
	Exported Support = "exported"
	// Partly: some cases are exported, the note says which.
	Partly Support = "partly exported"
	// NotExported: the rule stays with the webhook, the note says why.
	NotExported Support = "not exported"
)

// RuleSupport is one line of `setwarden export --list`.
type RuleSupport struct {
	Rule    string  `json:"rule"`
	Support Support `json:"support"`
	Note    string  `json:"note"`
}

// exporter turns one rule into CEL under a PolicyConfig.
type exporter struct {
	id      string
	support Support
	note    string
	build   func(cfg *policies.Config, rule *policies.Rule) (*ruleCEL, error)
}

// maxFragileFindings is how many toleration-value-fragile findings an
// object gets one message each for; more are summed up in one message.
const maxFragileFindings = 8

const grandfatherNote = "; on UPDATE a violation the old object already had is warned about with the rule's migration text, as the webhook does"

// exporters are the rules exported, in catalogue order, each with a one-line note.
var exporters = []exporter{
	// The mutation adds the tolerations; this catches agents it did not reach.
	{id: policies.RuleAgentTolerations, support: Exported, build: buildAgentTolerations,
		note: "a MutatingAdmissionPolicy adds the missing tolerations (JSONPatch, idempotent, tolerations that already cover a taint are kept); a validation denies an agent it did not reach, and PreferNoSchedule gaps are warned about"},
	{id: policies.RuleTolerationValueFragile, support: Partly, build: buildTolerationValueFragile,
		note: fmt.Sprintf("exact for up to %d fragile tolerations per object; beyond that the rest are counted in one message instead of one message each", maxFragileFindings)},
	{id: policies.RuleStatefulSetServiceName, support: Exported, build: statefulSetRule(`!has(%[1]s.spec.serviceName) || %[1]s.spec.serviceName == ""`, func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "" }),
		note: "spec.serviceName empty" + grandfatherNote},
	{id: policies.RuleStatefulSetVolumeClaimTmpls, support: Exported, build: statefulSetRule(`!has(%[1]s.spec.volumeClaimTemplates) || size(%[1]s.spec.volumeClaimTemplates) == 0`, func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates = nil }),
		note: "spec.volumeClaimTemplates empty" + grandfatherNote},
	{id: policies.RuleStatefulSetNameTooLong, support: Exported, build: statefulSetRule(`size(%[1]s.metadata.name) > 52`, func(s *appsv1.StatefulSet) { s.Name = strings.Repeat("n", 53) }),
		note: "metadata.name longer than 52 characters" + grandfatherNote},
}

// notExported says why each other rule stays with the webhook.
var notExported = map[string]string{
	"unknown-field":                            "unknown and duplicate fields are dropped or refused by kube-apiserver before any admission policy sees the object",
	policies.RuleStatefulSetServiceHeadless:    "reads the governing Service: CEL cannot look up other objects",
	policies.RuleStatefulSetServiceSelector:    "reads the governing Service: CEL cannot look up other objects",
	policies.RuleStatefulSetServiceMissing:     "reads the governing Service: CEL cannot look up other objects",
	policies.RuleStatefulSetVCTUnused:          "the messages name each unmounted claim; left to the webhook until they are ported exactly",
	policies.RuleAffinityInvalid:               "ports kube-apiserver's affinity validation with its exact messages (label syntax, rendered values); CEL cannot reproduce them exactly",
	policies.RuleTolerationInvalid:             "ports kube-apiserver's toleration validation with its exact messages; CEL cannot reproduce them exactly",
	policies.RuleSelectorTemplateMismatch:      "kube-apiserver itself refuses such objects before admission policies run",
	policies.RuleNodeAffinityUnsatisfiable:     "solves the node affinity requirements (set operations, numeric Gt/Lt ranges) and renders them; not expressible exactly in CEL",
	policies.RuleNodeAffinityConflictsSelector: "solves the nodeSelector against every required term; not expressible exactly in CEL",
	policies.RuleNodeAffinityNoMatchingNodes:   "reads the cluster's Nodes: CEL cannot look them up",
	policies.RuleAffinityDeprecatedLabel:       "walks every selector of the pod spec with per-label replacement advice; left to the webhook",
	policies.RulePodAffinityEmptySelector:      "decides from the labels the pods will carry (controller-added keys merged by matchLabelKeys) and renders the selector value; not exactly expressible in CEL",
	policies.RulePodAntiAffinityExceedsDomains: "reads the cluster's Nodes: CEL cannot look them up",
	policies.RulePodAntiAffinityNotSelf:        "evaluates label selectors, namespaces and namespaceSelectors against the workload's own pods; not exactly expressible in CEL",
	policies.RuleDaemonSetPodAntiAffinity:      "evaluates label selectors, namespaces and namespaceSelectors against the DaemonSet's own pods; not exactly expressible in CEL",
	policies.RuleMatchLabelKeysAbsent:          "decides from the labels the pods will carry, controller-added ones included; left to the webhook",
	policies.RuleTopologyKeyUnknown:            "reads the cluster's Nodes: CEL cannot look them up",
}

// List says, for each rule of the catalogue, how far it is exported.
func List() []RuleSupport {
	var out []RuleSupport
	for _, r := range policies.Rules {
		s := RuleSupport{Rule: r.ID, Support: NotExported, Note: notExported[r.ID]}
		for _, e := range exporters {
			if e.id == r.ID {
				s.Support, s.Note = e.support, e.note
			}
		}
		if s.Note == "" {
			s.Note = "not yet assessed for export"
		}
		out = append(out, s)
	}
	return out
}

// findings runs a rule's check (or its advice) on a sample object, so the
// exported messages are the engine's own.
func findings(cfg *policies.Config, rule *policies.Rule, obj runtime.Object, advise bool) field.ErrorList {
	w, ok := policies.NewWorkload(obj)
	if !ok {
		return nil
	}
	in := &policies.Input{Workload: w, Config: cfg}
	if advise {
		return rule.Advise(in)
	}
	return rule.Check(in)
}

// oneFinding returns the single finding of a sample, or an error that says
// the engine and the exporter no longer agree on the rule.
func oneFinding(cfg *policies.Config, rule *policies.Rule, obj runtime.Object, advise bool) (*field.Error, error) {
	errs := findings(cfg, rule, obj, advise)
	if len(errs) != 1 {
		return nil, fmt.Errorf("the sample object has %d findings instead of 1: the exporter needs updating", len(errs))
	}
	return errs[0], nil
}

// statefulSetRule exports a StatefulSet rule whose violation the CEL
// predicate violates (with %[1]s the object) detects; sample turns a valid
// StatefulSet into one with the rule's finding. On UPDATE a violation the
// old object had too is grandfathered: warned about with the migration text.
func statefulSetRule(violates string, sample func(*appsv1.StatefulSet)) func(*policies.Config, *policies.Rule) (*ruleCEL, error) {
	return func(cfg *policies.Config, rule *policies.Rule) (*ruleCEL, error) {
		sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "sample"},
			Spec: appsv1.StatefulSetSpec{ServiceName: "sample", VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{}}}}
		sample(sts)
		f, err := oneFinding(cfg, rule, sts, false)
		if err != nil {
			return nil, err
		}
		now, old := fmt.Sprintf(violates, "object"), fmt.Sprintf(violates, "oldObject")
		grandfathered := `request.operation == "UPDATE" && oldObject != null && (` + old + `)`
		return &ruleCEL{
			checks: []check{staticCheck("!("+now+") || ("+grandfathered+")", rule.ID, f.Error(), f.Detail)},
			capped: []check{staticCheck("!(("+now+") && "+grandfathered+")", rule.ID, f.Error()+"; "+rule.Migration, rule.Migration)},
		}, nil
	}
}

// buildAgentTolerations checks each configured taint on agent DaemonSets:
// NoSchedule and NoExecute gaps take the rule's action, PreferNoSchedule
// gaps are advice.
func buildAgentTolerations(cfg *policies.Config, rule *policies.Rule) (*ruleCEL, error) {
	rc := &ruleCEL{conditions: []admissionregistrationv1.MatchCondition{agentCondition(cfg)},
		variables: []admissionregistrationv1.Variable{tolerationsVar}}
	for _, taint := range cfg.ControlPlaneTaints {
		one := *cfg
		one.ControlPlaneTaints = []policies.TaintConfig{taint}
		one.Agents.Namespaces = []string{"agents"}
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "sample", Namespace: "agents"}}
		advise := taint.Effect == corev1.TaintEffectPreferNoSchedule
		f, err := oneFinding(&one, rule, ds, advise)
		if err != nil {
			return nil, err
		}
		c := staticCheck(coveredCEL("variables.tolerations", quote(taint.Key), quote(string(taint.Effect))), rule.ID, f.Error(), f.Detail)
		if advise {
			rc.capped = append(rc.capped, c)
		} else {
			rc.checks = append(rc.checks, c)
		}
	}
	return rc, nil
}

// podSpecVariables are the pod spec of any workload kind, its field path
// and its tolerations.
func podSpecVariables() []admissionregistrationv1.Variable {
	paths := map[string][]string{}
	var order []string
	for _, k := range policies.Kinds() {
		w, _ := policies.NewWorkload(k.New())
		p := w.PodSpecPath.String()
		if _, ok := paths[p]; !ok {
			order = append(order, p)
		}
		paths[p] = append(paths[p], k.Kind)
	}
	// The most common path is the default; the others are chosen by kind.
	common := order[0]
	for _, p := range order {
		if len(paths[p]) > len(paths[common]) {
			common = p
		}
	}
	spec, path := "object."+common, quote(common)
	for i := len(order) - 1; i >= 0; i-- {
		if p := order[i]; p != common {
			cond := "request.kind.kind in " + quoteList(paths[p])
			spec = cond + " ? object." + p + " : " + spec
			path = cond + " ? " + quote(p) + " : " + path
		}
	}
	return []admissionregistrationv1.Variable{
		{Name: "spec", Expression: spec},
		{Name: "specPath", Expression: path},
		{Name: "tolerations", Expression: "has(variables.spec.tolerations) ? variables.spec.tolerations : []"},
	}
}

// roleKeys are the keys toleration-value-fragile judges: the control-plane
// role keys and the configured taints' keys. The exporter checks them
// against the engine.
func roleKeys(cfg *policies.Config) []string {
	keys := []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"}
	for _, t := range cfg.ControlPlaneTaints {
		if !slices.Contains(keys, t.Key) {
			keys = append(keys, t.Key)
		}
	}
	return keys
}

// buildTolerationValueFragile reports, for each toleration of a role key
// that matches one value (operator Equal or empty), the engine's message.
func buildTolerationValueFragile(cfg *policies.Config, rule *policies.Rule) (*ruleCEL, error) {
	keys := roleKeys(cfg)
	const sampleValue = "sample-value"
	pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "not-a-role-key", Operator: corev1.TolerationOpEqual, Value: sampleValue}}}}
	for _, k := range keys {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Key: k, Operator: corev1.TolerationOpEqual, Value: sampleValue})
	}
	errs := findings(cfg, rule, pod, false)
	if len(errs) != len(keys) {
		return nil, fmt.Errorf("the engine judges %d role keys, the exporter %d: the exporter needs updating", len(errs), len(keys))
	}
	f := errs[0]
	before, after, ok1 := strings.Cut(f.Detail, keys[0])
	mid, rest, ok2 := strings.Cut(after, strconv.Quote(sampleValue))
	if !ok1 || !ok2 || f.Error() != `spec.tolerations[1].operator: Invalid value: "Equal": `+f.Detail {
		return nil, fmt.Errorf("unexpected finding %q: the exporter needs updating", f.Error())
	}
	// Each fragile toleration, with what its message needs.
	fragile := `variables.tolerations.transformList(i, t, (!has(t.operator) || t.operator == "" || t.operator == "Equal") && has(t.key) && t.key in ` +
		quoteList(keys) + `, {"index": string(i), "key": string(t.key), "operator": has(t.operator) ? string(t.operator) : "", "value": has(t.value) ? string(t.value) : ""})`
	rc := &ruleCEL{variables: append(podSpecVariables(), admissionregistrationv1.Variable{Name: "fragile", Expression: fragile})}
	for j := range maxFragileFindings {
		t := fmt.Sprintf("variables.fragile[%d]", j)
		detail := quote(before) + " + " + t + `.key + ` + quote(mid+`"`) + " + " + t + `.value + ` + quote(`"`+rest)
		full := `variables.specPath + ".tolerations[" + ` + t + `.index + "].operator: Invalid value: \"" + ` + t + `.operator + "\": " + ` + detail + " + " + quote(" (rule "+rule.ID+")")
		rc.checks = append(rc.checks, check{expr: fmt.Sprintf("size(variables.fragile) <= %d", j),
			full: message{expr: full}, short: message{expr: truncateCEL(quote(rule.ID+": ") + " + " + detail)}})
	}
	more := fmt.Sprintf(`string(size(variables.fragile) - %d) + " more tolerations match only one value of a control-plane role key; use operator: Exists and drop the value"`, maxFragileFindings)
	rc.checks = append(rc.checks, check{expr: fmt.Sprintf("size(variables.fragile) <= %d", maxFragileFindings),
		full:  message{expr: `variables.specPath + ".tolerations: Invalid value: " + ` + more + " + " + quote(" (rule "+rule.ID+")")},
		short: message{expr: quote(rule.ID+": ") + " + " + more}})
	return rc, nil
}
