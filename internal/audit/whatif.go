package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// ActionNone is the action of a rule without a finding on an object: it
// does not violate the rule, the rule is Off, or the object is exempt.
const ActionNone policies.Action = "None"

// WhatIfReport is the outcome of `setwarden audit --what-if`: how the
// proposed PolicyConfig would judge each object's next update, compared with
// the current one, per rule. Its JSON shape is documented in docs/audit.md;
// fields are only ever added.
type WhatIfReport struct {
	// Current and Proposed say which PolicyConfigs were compared.
	Current  string `json:"current"`
	Proposed string `json:"proposed"`
	// Rules are the rules whose verdict changes on some object, in
	// catalogue order.
	Rules []RuleChanges `json:"rules"`
	// Totals counts the changes of all rules by category.
	Totals Totals `json:"totals"`
	// Summary is the audit of the cluster under the current config, as
	// `audit -o json` reports it: objects, findings, violations per rule.
	Summary report.Summary `json:"summary"`
	// Errors are what could not be read or judged.
	Errors []report.Problem `json:"errors"`
}

// RuleChanges lists the objects whose verdict on one rule changes. Each
// object appears at most once per rule, in the category of its new action.
type RuleChanges struct {
	Rule string `json:"rule"`
	// NewlyDenied would be denied on their next update, and are not now.
	NewlyDenied []Change `json:"newlyDenied"`
	// NewlyWarned would get a warning instead of no finding, an audit
	// finding, or a denial.
	NewlyWarned []Change `json:"newlyWarned"`
	// NewlyAudited would be counted silently instead of warned, denied, or
	// passed.
	NewlyAudited []Change `json:"newlyAudited"`
	// NoLongerFlagged would have no finding of the rule any more.
	NoLongerFlagged []Change `json:"noLongerFlagged"`
}

// Change is one object whose verdict on one rule changes.
type Change struct {
	Object report.ObjectRef `json:"object"`
	// From and To are the actions now and under the proposed config:
	// Deny, Warn, Audit or None.
	From policies.Action `json:"from"`
	To   policies.Action `json:"to"`
	// Field and Message are the finding's, under the proposed config (the
	// current one's for NoLongerFlagged). With several findings of the rule
	// on the object, they are those of the first most severe.
	Field   string `json:"field"`
	Message string `json:"message"`
	// Grandfathered is set when the rule would deny such an object on
	// create, but the update only warns, with migration steps, because the
	// stored object already violates a field that cannot simply change.
	Grandfathered bool `json:"grandfathered,omitempty"`
}

// Totals counts the changes (an object and a rule each) by category.
type Totals struct {
	NewlyDenied     int `json:"newlyDenied"`
	NewlyWarned     int `json:"newlyWarned"`
	NewlyAudited    int `json:"newlyAudited"`
	NoLongerFlagged int `json:"noLongerFlagged"`
}

// WhatIfInput is what a what-if audit reads.
type WhatIfInput struct {
	Cluster Cluster
	// Current and Proposed judge the cluster; the sources say which
	// PolicyConfigs they hold.
	Current, Proposed             *policies.Engine
	CurrentSource, ProposedSource string
}

// WhatIf judges every workload of the cluster with both configs, as its
// next update would be judged, and returns the differences per rule, with
// the audit of the cluster under the current config as its summary. Only
// the changes are kept, not the objects. It returns an error when the
// cluster cannot be read at all.
func WhatIf(ctx context.Context, in WhatIfInput) (*WhatIfReport, error) {
	view, err := in.Cluster.View(ctx)
	if err != nil {
		return nil, err
	}
	b := report.NewBuilder(nil)
	summary := &report.ClusterSummary{Config: in.CurrentSource, Namespace: in.Cluster.Namespace}
	b.SetCluster(summary)
	countView(b, view)
	now := &Judge{Engine: in.Current, View: view}
	proposed := &Judge{Engine: in.Proposed, View: view}
	changes := map[string]*RuleChanges{}
	controlled, errs := in.Cluster.EachWorkload(ctx, func(obj runtime.Object) {
		v, ok := now.Object(ctx, obj)
		if !ok {
			return
		}
		if v.Err != nil {
			b.AddError(report.Problem{Object: &v.Ref, Message: v.Err.Error()})
			return
		}
		b.AddEvaluated("", 0, v.Ref, v.Report, nil, nil)
		before, _ := now.Update(ctx, obj)
		after, _ := proposed.Update(ctx, obj)
		if err := firstErr(before.Err, after.Err); err != nil {
			b.AddError(report.Problem{Object: &v.Ref, Message: err.Error()})
			return
		}
		compare(v.Ref, before.Report, after.Report, changes)
	})
	summary.Controlled = controlled
	for _, err := range errs {
		b.AddError(report.Problem{Message: err.Error()})
	}
	rep, _ := b.Finish() // a Builder without a Writer has no output to fail
	out := &WhatIfReport{Current: in.CurrentSource, Proposed: in.ProposedSource, Rules: []RuleChanges{},
		Summary: rep.Summary, Errors: rep.Errors}
	for _, id := range policies.RuleIDs() {
		if c, ok := changes[id]; ok {
			out.Rules = append(out.Rules, *c)
			out.Totals.NewlyDenied += len(c.NewlyDenied)
			out.Totals.NewlyWarned += len(c.NewlyWarned)
			out.Totals.NewlyAudited += len(c.NewlyAudited)
			out.Totals.NoLongerFlagged += len(c.NoLongerFlagged)
		}
	}
	return out, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// compare records, per rule, how an object's verdict changes from before
// to after.
func compare(ref report.ObjectRef, before, after *policies.Report, changes map[string]*RuleChanges) {
	was, will := strongest(before.Findings), strongest(after.Findings)
	for _, id := range policies.RuleIDs() {
		from, to := was[id], will[id]
		if actionOf(from) == actionOf(to) {
			continue
		}
		c := Change{Object: ref, From: actionOf(from), To: actionOf(to)}
		shown := to
		if to == nil {
			shown = from
		}
		c.Field, c.Message, c.Grandfathered = shown.Err.Field, shown.Err.ErrorBody(), to != nil && to.Grandfathered
		rc := changes[id]
		if rc == nil {
			rc = &RuleChanges{Rule: id, NewlyDenied: []Change{}, NewlyWarned: []Change{}, NewlyAudited: []Change{}, NoLongerFlagged: []Change{}}
			changes[id] = rc
		}
		switch c.To {
		case policies.ActionDeny:
			rc.NewlyDenied = append(rc.NewlyDenied, c)
		case policies.ActionWarn:
			rc.NewlyWarned = append(rc.NewlyWarned, c)
		case policies.ActionAudit:
			rc.NewlyAudited = append(rc.NewlyAudited, c)
		default:
			rc.NoLongerFlagged = append(rc.NoLongerFlagged, c)
		}
	}
}

// strongest returns, per rule, the first of its most severe findings.
func strongest(findings []policies.Finding) map[string]*policies.Finding {
	m := map[string]*policies.Finding{}
	for i := range findings {
		f := &findings[i]
		if cur, ok := m[f.Rule]; !ok || severity(f.Action) > severity(cur.Action) {
			m[f.Rule] = f
		}
	}
	return m
}

func actionOf(f *policies.Finding) policies.Action {
	if f == nil {
		return ActionNone
	}
	return f.Action
}

func severity(a policies.Action) int {
	switch a {
	case policies.ActionDeny:
		return 3
	case policies.ActionWarn:
		return 2
	case policies.ActionAudit:
		return 1
	}
	return 0
}

// Failed reports whether the proposed config fails the check under f:
// with deny, when it newly denies an object; with warn, when it newly
// denies or warns one.
func (r *WhatIfReport) Failed(f report.FailOn) bool {
	return f.Fails(policies.ActionDeny) && r.Totals.NewlyDenied > 0 ||
		f.Fails(policies.ActionWarn) && r.Totals.NewlyWarned > 0
}

// WriteText writes the report for people: per rule, one line per changed
// object, then the totals and the current audit's summary.
func (r *WhatIfReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "What if: %s instead of %s, as each object's next update would be judged.\n\n", r.Proposed, r.Current)
	for _, rc := range r.Rules {
		fmt.Fprintf(&b, "%s: %d newly denied, %d newly warned, %d newly audited, %d no longer flagged\n",
			rc.Rule, len(rc.NewlyDenied), len(rc.NewlyWarned), len(rc.NewlyAudited), len(rc.NoLongerFlagged))
		for _, group := range [][]Change{rc.NewlyDenied, rc.NewlyWarned, rc.NewlyAudited, rc.NoLongerFlagged} {
			for _, c := range group {
				note := ""
				if c.Grandfathered {
					note = " (grandfathered: a new object would be denied)"
				}
				fmt.Fprintf(&b, "  %s (was %s) %s %s: %s%s\n", c.To, c.From, c.Object.KindGroup(), c.Object.NamespacedName(),
					joinNonEmpty(": ", c.Field, c.Message), note)
			}
		}
		b.WriteString("\n")
	}
	if len(r.Rules) == 0 {
		b.WriteString("No rule changes its verdict on any object.\n\n")
	}
	for _, e := range r.Errors {
		if e.Object != nil {
			fmt.Fprintf(&b, "error: %s %s: %s\n", e.Object.KindGroup(), e.Object.NamespacedName(), e.Message)
		} else {
			fmt.Fprintf(&b, "error: %s\n", e.Message)
		}
	}
	fmt.Fprintf(&b, "What if: %d newly denied, %d newly warned, %d newly audited, %d no longer flagged\n",
		r.Totals.NewlyDenied, r.Totals.NewlyWarned, r.Totals.NewlyAudited, r.Totals.NoLongerFlagged)
	b.WriteString(report.SummaryText(&r.Summary))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON document.
func (r *WhatIfReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteYAML writes the report in the shape of its JSON, as YAML.
func (r *WhatIfReport) WriteYAML(w io.Writer) error {
	data, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// WriteOutput writes the report in out's format (text, json or yaml) to
// out's file, or to stdout when it names none.
func (rep *WhatIfReport) WriteOutput(out report.Output, stdout io.Writer) (err error) {
	w := stdout
	if out.File != "" {
		f, cerr := os.Create(out.File)
		if cerr != nil {
			return fmt.Errorf("writing the %s report: %w", out.Format, cerr)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("writing the %s report to %s: %w", out.Format, out.File, cerr)
			}
		}()
		w = f
	}
	switch out.Format {
	case "json":
		return rep.WriteJSON(w)
	case "yaml":
		return rep.WriteYAML(w)
	}
	return rep.WriteText(w)
}
