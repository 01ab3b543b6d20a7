// Package audit judges what already runs in a cluster: the workloads the
// validating webhook would judge, read page by page from the API server and
// evaluated in admission mode against the Services and Nodes of the
// cluster, with the same rule IDs and messages as the webhook and check.
// A one-shot audit streams its results to report writers, so that memory
// holds the Services and Nodes (stripped) and two pages of workloads,
// whatever the number of workloads.
//
// Judge is the part that does not depend on how objects are read: a
// continuous audit over informers can feed it the objects it watches.
package audit

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// Judge evaluates live objects as the validating webhook would.
type Judge struct {
	// Engine holds the PolicyConfig in force.
	Engine *policies.Engine
	// View answers for the cluster's Services and Nodes.
	View policies.ClusterView
}

// Verdict is the judgement of one object.
type Verdict struct {
	// Ref names the object; its apiVersion and kind come from the kind
	// table, as typed lists leave them empty.
	Ref report.ObjectRef
	// Kind is the object's workload kind.
	Kind policies.Kind
	// Report is the engine's report; nil when Err is set.
	Report *policies.Report
	// Err is a panic in a rule: a bug, reported for the object alone.
	Err error
}

// Object judges obj as if it were being created: the findings are those a
// create of the same object would get. ok is false for objects of kinds
// the webhook does not judge.
func (j *Judge) Object(ctx context.Context, obj runtime.Object) (v Verdict, ok bool) {
	return j.judge(ctx, obj, nil)
}

// Update judges obj as if it were being updated without touching the
// offending fields: a rule over a field that cannot simply be changed
// (its Migration) warns, with the migration steps, instead of denying
// what the stored object already violated. This is what an object's next
// update meets.
func (j *Judge) Update(ctx context.Context, obj runtime.Object) (v Verdict, ok bool) {
	return j.judge(ctx, obj, obj)
}

func (j *Judge) judge(ctx context.Context, obj, old runtime.Object) (v Verdict, ok bool) {
	kind, ok := policies.KindOf(obj)
	if !ok {
		return Verdict{}, false
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return Verdict{}, false
	}
	v = Verdict{Kind: kind, Ref: report.ObjectRef{APIVersion: kind.GroupVersion().String(), Kind: kind.Kind,
		Namespace: m.GetNamespace(), Name: m.GetName()}}
	v.Report, v.Err = evaluate(ctx, j.Engine, policies.Request{Object: obj, OldObject: old, View: j.View, Mode: policies.ModeAdmission})
	return v, true
}

// evaluate runs the engine on one object. A panic in a rule is a bug, but it
// must not lose the report on every other object.
func evaluate(ctx context.Context, engine *policies.Engine, req policies.Request) (r *policies.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error while evaluating the rules (please report it): %v", p)
		}
	}()
	return engine.Evaluate(ctx, req), nil
}

// Cluster is the cluster an audit reads.
type Cluster struct {
	// Client reads it; an audit only lists.
	Client kubernetes.Interface
	// Namespace limits the workloads and Services to one namespace; ""
	// reads them in all namespaces. Nodes are always read.
	Namespace string
	// PageSize is the limit of each list request (DefaultPageSize when 0).
	PageSize int64
}

func (c *Cluster) pageSize() int64 {
	if c.PageSize > 0 {
		return c.PageSize
	}
	return DefaultPageSize
}

// View lists the cluster's Services and Nodes.
func (c *Cluster) View(ctx context.Context) (*View, error) {
	return ListView(ctx, c.Client, c.Namespace, c.pageSize())
}

// EachWorkload lists every judged kind, page by page, in the order of
// policies.Kinds(), and calls fn with each object that is not Controlled;
// it returns how many were Controlled. A kind that cannot be listed does
// not stop the others: its error is returned with theirs, one per kind.
func (c *Cluster) EachWorkload(ctx context.Context, fn func(obj runtime.Object)) (controlled int, errs []error) {
	for _, kind := range policies.Kinds() {
		list, err := lister(c.Client, kind, c.Namespace)
		if err == nil {
			err = eachPaged(ctx, list, c.pageSize(), func(obj runtime.Object) error {
				if m, err := meta.Accessor(obj); err == nil && Controlled(m) {
					controlled++
					return nil
				}
				fn(obj)
				return nil
			})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s: %w", kindResource(kind), err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	return controlled, errs
}

// kindResource names a kind's resource as kubectl does: "deployments.apps".
func kindResource(k policies.Kind) string {
	if k.Group == "" {
		return k.Resource
	}
	return k.Resource + "." + k.Group
}

// Input is what a one-shot audit reads and where its results go.
type Input struct {
	Cluster Cluster
	// Engine holds the PolicyConfig in force; ConfigSource says which it is.
	Engine       *policies.Engine
	ConfigSource string
	// Out receives each object's results as it is judged.
	Out report.Writer
	// WithRules asks for each object's enabled rules (JUnit's testcases).
	WithRules bool
}

// Run audits the cluster: it lists the Services and Nodes, then every
// judged workload page by page, judges each in admission mode and hands
// its results to Out at once. It returns the report without its results
// and the outputs' errors, or no report and the error when the cluster
// cannot be read at all (its Services or Nodes). A kind that cannot be
// listed is an error of the report, after every other kind was judged.
func Run(ctx context.Context, in Input) (*report.Report, error) {
	view, err := in.Cluster.View(ctx)
	if err != nil {
		return nil, err
	}
	b := report.NewBuilder(in.Out)
	summary := &report.ClusterSummary{Config: in.ConfigSource, Namespace: in.Cluster.Namespace}
	b.SetCluster(summary)
	countView(b, view)
	judge := &Judge{Engine: in.Engine, View: view}
	rules := map[string][]string{} // enabled rules by kind/namespace, for JUnit
	controlled, errs := in.Cluster.EachWorkload(ctx, func(obj runtime.Object) {
		v, ok := judge.Object(ctx, obj)
		if !ok {
			return
		}
		if v.Err != nil {
			b.AddError(report.Problem{Object: &v.Ref, Message: v.Err.Error()})
			return
		}
		var enabled []string
		if in.WithRules {
			key := v.Kind.GroupKind().String() + "/" + v.Ref.Namespace
			if enabled = rules[key]; enabled == nil {
				enabled = report.EnabledRules(in.Engine.Config(), v.Kind.GroupKind(), v.Ref.Namespace)
				rules[key] = enabled
			}
		}
		b.AddEvaluated("", 0, v.Ref, v.Report, nil, enabled)
	})
	summary.Controlled = controlled
	for _, err := range errs {
		b.AddError(report.Problem{Message: err.Error()})
	}
	return b.Finish()
}

// countView counts the view's objects as read and not evaluated, as check
// counts the Services and Nodes of its input.
func countView(b *report.Builder, v *View) {
	for range v.services {
		b.AddNotEvaluated(report.ObjectRef{APIVersion: "v1", Kind: "Service"})
	}
	for range v.nodes {
		b.AddNotEvaluated(report.ObjectRef{APIVersion: "v1", Kind: "Node"})
	}
}
