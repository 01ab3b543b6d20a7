// Package report turns the engine's per-object reports into the output of
// `setwarden check`: text, JSON, YAML, SARIF or JUnit. The outputs are
// written while the check runs, so memory does not grow with the number of
// objects. The JSON shape is public and stable; examples/README.md
// documents it.
package report

import (
	"slices"
	"sort"

	"github.com/setwarden/setwarden/policies"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Report is the whole result of one check, in the documented shape of -o
// json. The Builder does not keep Results: they go to its Writer as they
// are found, so a finished Builder's report has only the summary and errors.
type Report struct {
	// Results are the findings that are not exempt, in input order.
	Results []Result `json:"results"`
	// Summary counts what was read, found, exempted and skipped.
	Summary Summary `json:"summary"`
	// Errors are input errors: what could not be read or decoded.
	Errors []Problem `json:"errors"`
}

// Checked is one evaluated object and what ran on it, for formats with one
// entry per object and rule (JUnit).
type Checked struct {
	File   string
	Line   int
	Object ObjectRef
	// Rules are the IDs of the rules enabled for the object, in catalogue
	// order, when the Builder was given them; Skipped and Exempted are the
	// engine's, and tell why some of them produced no findings.
	Rules    []string
	Skipped  []policies.Skip
	Exempted []policies.Finding
}

// skipReason returns why rule did not run on the object, or "".
func (c *Checked) skipReason(rule string) string {
	for _, sk := range c.Skipped {
		if sk.Rule == rule {
			return sk.Reason
		}
	}
	return ""
}

// exempted reports whether the object is exempt from a finding of rule.
func (c *Checked) exempted(rule string) bool {
	for _, f := range c.Exempted {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

// Result is one finding on one object.
type Result struct {
	Rule   string          `json:"rule"`
	Action policies.Action `json:"action"`
	Object ObjectRef       `json:"object"`
	// Field is the full field path, such as spec.template.spec.tolerations[0].
	Field string `json:"field"`
	// Message is the error body as kubectl prints it after the path:
	// "Required value: <detail>" or "Invalid value: <value>: <detail>".
	Message string `json:"message"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	// FieldLine is the line of the offending field when the reader could
	// place it, else Line. SARIF reports it; the JSON shape predates it.
	FieldLine int `json:"-"`
}

// ObjectRef identifies an object. Namespace is "default" for a namespaced
// object that omits it.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// KindGroup renders the object's kind as kubectl does: "StatefulSet.apps",
// or "Pod" for the core group.
func (o ObjectRef) KindGroup() string {
	gv, _ := schema.ParseGroupVersion(o.APIVersion)
	if gv.Group == "" {
		return o.Kind
	}
	return o.Kind + "." + gv.Group
}

// NamespacedName renders "namespace/name", or "name" for cluster-scoped objects.
func (o ObjectRef) NamespacedName() string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

// Problem is an input error or notice at a place in the input. Line is 0
// when it concerns a whole file; Object is set for notices about an object.
type Problem struct {
	File    string     `json:"file"`
	Line    int        `json:"line"`
	Object  *ObjectRef `json:"object,omitempty"`
	Message string     `json:"message"`
}

// Summary counts what the check read and found.
type Summary struct {
	// Objects is how many objects were read (List items count one each).
	Objects int `json:"objects"`
	// Evaluated is how many of them are workloads the rules ran on.
	Evaluated int `json:"evaluated"`
	// NotEvaluated counts the other objects by kind ("Service", "ConfigMap",
	// "Certificate.cert-manager.io").
	NotEvaluated map[string]int `json:"notEvaluated"`
	// ByAction counts the results by action; every action is present.
	ByAction map[policies.Action]int `json:"byAction"`
	// Exempted counts exempted findings by rule ID.
	Exempted map[string]int `json:"exempted"`
	// Skipped lists rules that did not run for lack of cluster data.
	Skipped []Skipped `json:"skipped"`
	// Notices are exemption annotations that were ignored, and files
	// skipped on purpose.
	Notices []Problem `json:"notices"`
	// Errors is len(Report.Errors).
	Errors int `json:"errors"`
	// Cluster is set by an audit of a live cluster, never by check.
	Cluster *ClusterSummary `json:"cluster,omitempty"`
}

// ClusterSummary is what an audit of a live cluster adds to the summary.
type ClusterSummary struct {
	// Config says which PolicyConfig judged the cluster.
	Config string `json:"config"`
	// Namespace is the namespace audited; empty for all of them.
	Namespace string `json:"namespace,omitempty"`
	// Controlled counts the objects not judged because a judged workload
	// controls them (a Deployment's ReplicaSets, a ReplicaSet's Pods): their
	// controller is judged instead.
	Controlled int `json:"controlled"`
	// Violations counts, per rule with findings, the objects that violate
	// it, by the action of their findings; in catalogue order. The Builder
	// fills it in.
	Violations []RuleViolations `json:"violations"`
}

// RuleViolations is how many objects violate one rule, by action. An object
// with several findings of the rule counts once per action.
type RuleViolations struct {
	Rule    string                  `json:"rule"`
	Objects map[policies.Action]int `json:"objects"`
}

// Skipped is a rule that did not run on some objects, and why.
type Skipped struct {
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
	Objects int    `json:"objects"`
}

// Builder collects a check object by object. It hands each object's
// results to its Writer at once and keeps only what does not grow with the
// number of objects (counts), plus notices and input errors, which are rare.
type Builder struct {
	w       Writer
	err     error    // the Writer's first error; it gets no more objects
	results []Result // one object's results, reused from object to object
	report  Report
	skipped map[Skipped]int // keyed with Objects == 0
	// violations counts objects by rule and action, with SetCluster.
	violations map[string]map[policies.Action]int
}

// NewBuilder returns an empty Builder that streams to w, or only counts
// when w is nil.
func NewBuilder(w Writer) *Builder {
	if w == nil {
		w = discard{}
	}
	return &Builder{
		w: w,
		report: Report{
			Results: []Result{},
			Errors:  []Problem{},
			Summary: Summary{
				NotEvaluated: map[string]int{},
				ByAction: map[policies.Action]int{
					policies.ActionDeny: 0, policies.ActionWarn: 0, policies.ActionAudit: 0, policies.ActionMutate: 0,
				},
				Exempted: map[string]int{},
				Skipped:  []Skipped{},
				Notices:  []Problem{},
			},
		},
		skipped: map[Skipped]int{},
	}
}

// AddEvaluated records the engine's report on one workload and writes its
// results. fieldLine, when not nil, returns the line of a field path (0
// when unknown); rules are the rules enabled for the object, which only
// JUnit needs.
func (b *Builder) AddEvaluated(file string, line int, obj ObjectRef, r *policies.Report, fieldLine func(string) int, rules []string) {
	s := &b.report.Summary
	s.Objects++
	s.Evaluated++
	b.results = b.results[:0]
	for _, f := range r.Findings {
		res := Result{
			Rule: f.Rule, Action: f.Action, Object: obj,
			Field: f.Err.Field, Message: f.Err.ErrorBody(), File: file, Line: line, FieldLine: line,
		}
		if fieldLine != nil {
			if l := fieldLine(f.Err.Field); l > 0 {
				res.FieldLine = l
			}
		}
		b.results = append(b.results, res)
		s.ByAction[f.Action]++
	}
	if s.Cluster != nil {
		b.countViolations(r.Findings)
	}
	for _, f := range r.Exempted {
		s.Exempted[f.Rule]++
	}
	for _, sk := range r.Skipped {
		b.skipped[Skipped{Rule: sk.Rule, Reason: sk.Reason}]++
	}
	for _, n := range r.Notices {
		s.Notices = append(s.Notices, Problem{File: file, Line: line, Object: &obj, Message: n})
	}
	if b.err == nil {
		c := Checked{File: file, Line: line, Object: obj, Rules: rules, Skipped: r.Skipped, Exempted: r.Exempted}
		b.err = b.w.Object(&c, b.results)
	}
}

// SetCluster makes the report an audit's: the summary gets c, whose
// Violations the Builder counts. c stays the caller's until Finish, so that
// it can count what the Builder does not see (Controlled).
func (b *Builder) SetCluster(c *ClusterSummary) {
	b.report.Summary.Cluster = c
	b.violations = map[string]map[policies.Action]int{}
}

// countViolations counts one object's findings by rule and action, the
// object once for each.
func (b *Builder) countViolations(findings []policies.Finding) {
	for i, f := range findings {
		if slices.ContainsFunc(findings[:i], func(g policies.Finding) bool { return g.Rule == f.Rule && g.Action == f.Action }) {
			continue
		}
		byAction := b.violations[f.Rule]
		if byAction == nil {
			byAction = map[policies.Action]int{}
			b.violations[f.Rule] = byAction
		}
		byAction[f.Action]++
	}
}

// AddNotEvaluated counts an object no rule applies to, by kind.
func (b *Builder) AddNotEvaluated(obj ObjectRef) {
	b.report.Summary.Objects++
	b.report.Summary.NotEvaluated[obj.KindGroup()]++
}

// AddError records an input error.
func (b *Builder) AddError(p Problem) {
	b.report.Errors = append(b.report.Errors, p)
}

// AddNotice records a notice that concerns no object, such as a skipped file.
func (b *Builder) AddNotice(p Problem) {
	b.report.Summary.Notices = append(b.report.Summary.Notices, p)
}

// Finish completes the report, has the Writer write its end, and returns
// the report without its results (they went to the Writer) and the
// Writer's first error. Skipped rules are in catalogue order.
func (b *Builder) Finish() (*Report, error) {
	r := b.report
	r.Summary.Errors = len(r.Errors)
	order := map[string]int{}
	for i, id := range policies.RuleIDs() {
		order[id] = i
	}
	r.Summary.Skipped = []Skipped{}
	for sk, n := range b.skipped {
		sk.Objects = n
		r.Summary.Skipped = append(r.Summary.Skipped, sk)
	}
	sort.Slice(r.Summary.Skipped, func(i, j int) bool {
		a, c := r.Summary.Skipped[i], r.Summary.Skipped[j]
		if order[a.Rule] != order[c.Rule] {
			return order[a.Rule] < order[c.Rule]
		}
		return a.Reason < c.Reason
	})
	if c := r.Summary.Cluster; c != nil {
		c.Violations = []RuleViolations{}
		for _, id := range policies.RuleIDs() {
			if byAction, ok := b.violations[id]; ok {
				c.Violations = append(c.Violations, RuleViolations{Rule: id, Objects: byAction})
			}
		}
	}
	// The Writer finishes even after an error, to release its temporary files.
	err := b.w.Finish(&r)
	if b.err != nil {
		err = b.err
	}
	return &r, err
}

// Denied reports whether any result denies its object.
func (r *Report) Denied() bool { return r.Summary.ByAction[policies.ActionDeny] > 0 }

// FailOn is the policy that turns findings into a failed check: the
// actions that fail it.
type FailOn string

const (
	// FailOnDeny fails the check on Deny findings (the default).
	FailOnDeny FailOn = "deny"
	// FailOnWarn fails it on Deny and Warn findings, and on Mutate ones (an
	// agent DaemonSet the webhook would change: its manifest is not what
	// runs).
	FailOnWarn FailOn = "warn"
	// FailOnNever never fails it for findings; input errors still do.
	FailOnNever FailOn = "never"
)

// FailOnValues are the valid FailOn values.
var FailOnValues = []string{string(FailOnDeny), string(FailOnWarn), string(FailOnNever)}

// Fails reports whether a finding with action a fails the check.
func (f FailOn) Fails(a policies.Action) bool {
	switch f {
	case FailOnDeny:
		return a == policies.ActionDeny
	case FailOnWarn:
		return a == policies.ActionDeny || a == policies.ActionWarn || a == policies.ActionMutate
	}
	return false
}

// Failed reports whether any result fails the check under policy f.
func (r *Report) Failed(f FailOn) bool {
	for a, n := range r.Summary.ByAction {
		if n > 0 && f.Fails(a) {
			return true
		}
	}
	return false
}
