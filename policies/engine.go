package policies

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Mode says which front the engine serves; it changes how the
// agent-tolerations gap is reported.
type Mode int

const (
	// ModeAdmission is the validating webhook: a missing agent toleration
	// means the mutation did not run, and takes the rule's configured action.
	ModeAdmission Mode = iota
	// ModeOffline is the CLI: a missing agent toleration is reported with
	// action Mutate, which `check --fix` applies.
	ModeOffline
)

// Request is one object to evaluate.
type Request struct {
	// Object is the typed object (Pod, Deployment, StatefulSet, ...).
	Object runtime.Object
	// OldObject is the stored object on UPDATE, nil otherwise.
	OldObject runtime.Object
	// View answers cross-object and cluster-aware questions; nil knows nothing.
	View ClusterView
	// Mode selects admission or offline reporting.
	Mode Mode
	// DecodeErrors are the object's unknown and duplicate fields, found by
	// the offline check's strict decoding; admission has none (the API
	// server drops or refuses them first).
	DecodeErrors field.ErrorList
}

// Report is the outcome of evaluating one object.
type Report struct {
	// Applicable is false for objects no rule applies to.
	Applicable bool
	// Findings are the violations that are not exempt, in rule order.
	Findings []Finding
	// Exempted are violations an exemption waived; they are still counted.
	Exempted []Finding
	// Skipped lists the rules that could not run for lack of cluster data.
	Skipped []Skip
	// Notices explain exemptions that were ignored, and similar.
	Notices []string
}

// Skip records a rule that did not run and why.
type Skip struct {
	Rule   string
	Reason string
}

// Denied reports whether any finding denies the object.
func (r *Report) Denied() bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Action == ActionDeny })
}

// Input is what a rule's check reads.
type Input struct {
	*Workload
	// Config is the policy configuration in force.
	Config *Config
	// Service is a StatefulSet's governing Service when ServiceFound.
	Service      *corev1.Service
	ServiceFound bool
	// Nodes are the cluster's Nodes, for rules that declare NeedsNodes.
	Nodes []*corev1.Node
	// AgentMutated is set, for rules that declare NeedsNodes, when the
	// object is an agent DaemonSet that the agent-tolerations mutation
	// gives the control-plane tolerations (the webhook validates the
	// mutated object; check predicts it).
	AgentMutated bool
	// DecodeErrors are the request's DecodeErrors.
	DecodeErrors field.ErrorList
}

// Engine evaluates objects against the rule catalogue under one Config.
// It is safe for concurrent use; swap the whole Engine to change config.
type Engine struct {
	config *Config
	// labels remembers valid label keys and values (labelmemo.go).
	labels *labelMemo
	// enabled memoises enabledRules by namespace (*enabledSet values): the
	// answer depends only on the config, which never changes.
	enabled      sync.Map
	enabledCount atomic.Int32
}

// maxEnabledSets bounds the memo: a cluster has far fewer namespaces, and
// past the bound the rules are merely looked up again.
const maxEnabledSets = 10_000

// enabledSet is the rules enabled in one namespace, with their actions.
type enabledSet struct {
	rules     []*Rule
	actions   []Action
	needNodes bool
}

// NewEngine returns an engine for cfg (DefaultConfig when nil).
func NewEngine(cfg *Config) *Engine {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	return &Engine{config: cfg, labels: newLabelMemo()}
}

// Config returns the configuration in force.
func (e *Engine) Config() *Config { return e.config }

// Evaluate runs every enabled rule on the object and collects every finding.
func (e *Engine) Evaluate(ctx context.Context, req Request) *Report {
	report := &Report{}
	w, ok := NewWorkload(req.Object)
	if !ok {
		return report
	}
	report.Applicable = true
	w.labels = e.labels
	view := req.View
	if view == nil {
		view = EmptyView{}
	}
	exempt := e.exemptions(w, report)
	enabled, actions, needNodes := e.enabledRules(w.Namespace())
	in, missing := e.input(ctx, w, view, needNodes)
	in.DecodeErrors = req.DecodeErrors
	if needNodes && w.DaemonSet != nil {
		in.AgentMutated = e.config.IsAgent(w.Meta) && e.config.ActionFor(ruleByID[RuleAgentTolerations], w.Namespace()) != ActionOff &&
			!exempt(RuleAgentTolerations)
	}
	var old *Input
	if req.OldObject != nil {
		if oldW, ok := NewWorkload(req.OldObject); ok {
			oldW.labels = e.labels
			old, _ = e.input(ctx, oldW, view, false)
		}
	}
	for i, rule := range enabled {
		if !rule.AppliesTo(w.GroupKind) {
			continue
		}
		action := actions[i]
		if reason, ok := missing[rule.Needs]; ok {
			report.Skipped = append(report.Skipped, Skip{Rule: rule.ID, Reason: reason})
			continue
		}
		if rule.Mutation && req.Mode == ModeOffline {
			action = ActionMutate
		}
		for _, f := range rule.evaluate(in, old, action) {
			if exempt(rule.ID) {
				report.Exempted = append(report.Exempted, f)
			} else {
				report.Findings = append(report.Findings, f)
			}
		}
	}
	return report
}

// enabledRules returns the rules that are not Off in a namespace, with their
// actions, and whether any of them reads Nodes.
func (e *Engine) enabledRules(namespace string) (rules []*Rule, actions []Action, needNodes bool) {
	if set, ok := e.enabled.Load(namespace); ok {
		s := set.(*enabledSet)
		return s.rules, s.actions, s.needNodes
	}
	s := &enabledSet{}
	for i := range Rules {
		rule := &Rules[i]
		if a := e.config.ActionFor(rule, namespace); a != ActionOff {
			s.rules, s.actions = append(s.rules, rule), append(s.actions, a)
			s.needNodes = s.needNodes || rule.Needs == NeedsNodes
		}
	}
	if e.enabledCount.Add(1) <= maxEnabledSets {
		e.enabled.Store(namespace, s)
	}
	return s.rules, s.actions, s.needNodes
}

// input resolves the cluster data the rules need, once per object. The
// returned map says, for each unmet need, why it is unmet.
func (e *Engine) input(ctx context.Context, w *Workload, view ClusterView, needNodes bool) (*Input, map[Needs]string) {
	in := &Input{Workload: w, Config: e.config}
	missing := map[Needs]string{}
	if w.StatefulSet != nil && w.StatefulSet.Spec.ServiceName != "" {
		svc, found, err := view.Service(ctx, w.Namespace(), w.StatefulSet.Spec.ServiceName)
		if err != nil {
			missing[NeedsService] = fmt.Sprintf("Service %s/%s: %v", w.Namespace(), w.StatefulSet.Spec.ServiceName, err)
		}
		in.Service, in.ServiceFound = svc, found && err == nil
	}
	if needNodes {
		nodes, err := view.Nodes(ctx)
		if err != nil {
			missing[NeedsNodes] = fmt.Sprintf("Nodes: %v", err)
		}
		in.Nodes = nodes
	}
	return in, missing
}

// evaluate runs one rule and turns its field errors into findings. A rule
// over an immutable field downgrades a violation the old object already had.
func (r *Rule) evaluate(in, old *Input, action Action) []Finding {
	var findings []Finding
	var oldErrs field.ErrorList
	if r.Migration != "" && old != nil {
		oldErrs = r.Check(old)
	}
	for _, err := range r.Check(in) {
		f := Finding{Rule: r.ID, Action: action, Err: err}
		if slices.ContainsFunc(oldErrs, func(o *field.Error) bool { return o.Field == err.Field && o.Type == err.Type }) {
			f.Action, f.Grandfathered = action.capAt(ActionWarn), true
			err.Detail += "; " + r.Migration
		}
		findings = append(findings, f)
	}
	if r.Advise != nil {
		for _, err := range r.Advise(in) {
			findings = append(findings, Finding{Rule: r.ID, Action: action.capAt(ActionWarn), Err: err})
		}
	}
	return findings
}

// exemptions returns whether a rule is exempt for this object, by its
// namespace, the PolicyConfig's object exemptions or its annotation, and
// records notices for exemption annotations it ignores.
func (e *Engine) exemptions(w *Workload, report *Report) func(rule string) bool {
	byAnnotation := e.annotationExemptions(w, report)
	return func(rule string) bool { return e.config.objectExempt(w, rule) || byAnnotation(rule) }
}

// annotationExemptions returns whether a rule is exempt for this object by
// its namespace or annotation.
func (e *Engine) annotationExemptions(w *Workload, report *Report) func(rule string) bool {
	if e.config.NamespaceExempt(w.Namespace()) {
		return func(string) bool { return true }
	}
	value, ok := w.Meta.Annotations[ExemptAnnotation]
	if !ok {
		return func(string) bool { return false }
	}
	if !*e.config.Exemptions.AllowAnnotations {
		report.Notices = append(report.Notices, fmt.Sprintf("annotation %s is ignored: the PolicyConfig forbids annotation exemptions", ExemptAnnotation))
		return func(string) bool { return false }
	}
	if strings.TrimSpace(w.Meta.Annotations[ExemptReasonAnnotation]) == "" {
		report.Notices = append(report.Notices, fmt.Sprintf("annotation %s is ignored: set a non-empty %s annotation that explains the exemption", ExemptAnnotation, ExemptReasonAnnotation))
		return func(string) bool { return false }
	}
	rules := map[string]bool{}
	for _, id := range strings.Split(value, ",") {
		id = strings.TrimSpace(id)
		switch _, known := ruleByID[id]; {
		case id == "":
		case id == "*" || known:
			rules[id] = true
		default:
			report.Notices = append(report.Notices, fmt.Sprintf("annotation %s names unknown rule %q; it exempts nothing (valid IDs: %s)", ExemptAnnotation, id, strings.Join(RuleIDs(), ", ")))
		}
	}
	return func(rule string) bool { return rules["*"] || rules[rule] }
}

// MutateAgentTolerations adds the configured control-plane tolerations to an
// agent DaemonSet that is not exempt and whose rule is not Off. It edits the
// object in place and returns the tolerations it added (none when nothing
// changed); a second call adds nothing.
func (e *Engine) MutateAgentTolerations(ds *appsv1.DaemonSet) []corev1.Toleration {
	w, _ := NewWorkload(ds)
	if !e.config.IsAgent(&ds.ObjectMeta) || e.config.ActionFor(ruleByID[RuleAgentTolerations], w.Namespace()) == ActionOff {
		return nil
	}
	if e.exemptions(w, &Report{})(RuleAgentTolerations) {
		return nil
	}
	return AddAgentTolerations(&ds.Spec.Template.Spec, e.config.ControlPlaneTaints)
}
