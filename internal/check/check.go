// Package check runs the policy engine over manifests offline: it reads them
// with a manifest.Reader, builds the cluster the rules see from the input's
// Services and Nodes (layered over a live cluster on request), evaluates
// every workload in offline mode, and streams the results to report
// writers, so that memory does not grow with the number of objects.
package check

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes"

	"github.com/setwarden/setwarden/internal/manifest"
	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// Input is what one check reads and where its results go.
type Input struct {
	// Engine judges the objects.
	Engine *policies.Engine
	// Reader reads Paths; its Stdin and Virtual files are the caller's.
	Reader *manifest.Reader
	// Paths are files, directories, manifest.StdinPath and virtual names.
	Paths []string
	// Errors are input problems found before the check (kustomize, --fix),
	// reported with the others.
	Errors []report.Problem
	// Notices are notices found before the check, such as the agents --fix
	// could not fix.
	Notices []report.Problem
	// Out receives each object's results as it is judged.
	Out report.Writer
	// WithRules asks for each object's enabled rules (JUnit's testcases).
	WithRules bool
	// OwnFiles are the files Out writes to: they are not read as input.
	OwnFiles []os.FileInfo
	// Live, when set, answers for the Services and Nodes the input lacks.
	Live kubernetes.Interface
	// AllowEmpty lets an input without any object pass; otherwise it is an
	// input error, so that a failed helm template piped in cannot pass.
	AllowEmpty bool
	// Namespace is the namespace of the objects read without one, as
	// kubectl -n gives it; empty means "default".
	Namespace string
}

// Run checks the input in two streaming passes, so that memory does
// not grow with the number of objects:
//
//  1. buildView indexes the input's Services and Nodes. The cross-object
//     rules need every Service before any StatefulSet is judged, and the
//     node-aware rules every Node before any workload is (Nodes usually
//     come last: examples/cluster sorts after examples/broken). The pass
//     decodes only documents whose text mentions Service, Node or List, so
//     it costs little more than reading the files again.
//  2. Every document is decoded, evaluated and dropped; its results go to
//     the outputs at once, and only counts stay.
//
// The reader decodes and judges documents on every core but hands them
// over in input order on this goroutine, so the report needs no locks.
//
// Deferring only the StatefulSets whose Service had not been seen yet would
// save the first pass, but not for Nodes, which every workload may need.
// Documents and problems of the files the outputs go to are skipped: an
// output file in an input directory is being written while it is read.
// It returns the report without its results, which went to the outputs,
// and the outputs' errors.
func Run(ctx context.Context, in Input) (*report.Report, error) {
	b := report.NewBuilder(in.Out)
	for _, p := range in.Errors {
		b.AddError(p)
	}
	for _, p := range in.Notices {
		b.AddNotice(p)
	}
	documents, errs := 0, len(in.Errors)
	own := &ownFiles{outputs: in.OwnFiles, seen: map[string]bool{}}
	view := buildView(ctx, in.Reader, in.Paths, in.Live, own, in.Namespace)
	ev := &evaluator{ctx: ctx, engine: in.Engine, view: view, builder: b, withRules: in.WithRules, rules: map[string][]string{},
		namespace: in.Namespace}
	in.Reader.Walk(ctx, in.Paths, &manifest.Visitor{
		Prepare: ev.judge,
		Document: func(doc *manifest.Document) {
			if !own.has(doc.File) {
				documents++
				ev.document(doc)
			}
		},
		Error: func(p manifest.Problem) {
			if !own.has(p.File) {
				errs++
				b.AddError(problem(p))
			}
		},
		Notice: func(p manifest.Problem) {
			if !own.has(p.File) {
				b.AddNotice(problem(p))
			}
		},
	})
	if !in.AllowEmpty && documents == 0 && errs == 0 {
		names := displayNames(in.Paths)
		b.AddError(report.Problem{File: strings.Join(names, ", "), Message: "no Kubernetes objects found in " + strings.Join(names, ", ") +
			" (--allow-empty lets an empty input pass)"})
	}
	return b.Finish()
}

// displayNames are the names of paths in reports: "<stdin>" for "-".
func displayNames(paths []string) []string {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = p
		if p == manifest.StdinPath {
			names[i] = manifest.StdinName
		}
	}
	return names
}

// ownFiles tells the files the outputs are written to.
type ownFiles struct {
	outputs []os.FileInfo
	seen    map[string]bool // by input file name
}

func (o *ownFiles) has(file string) bool {
	if len(o.outputs) == 0 {
		return false
	}
	own, ok := o.seen[file]
	if !ok {
		if info, err := os.Stat(file); err == nil {
			own = slices.ContainsFunc(o.outputs, func(out os.FileInfo) bool { return os.SameFile(info, out) })
		}
		o.seen[file] = own
	}
	return own
}

// buildView returns the cluster the rules read: the Services and Nodes of
// the input, layered over the live cluster with --cluster.
func buildView(ctx context.Context, reader *manifest.Reader, paths []string, live kubernetes.Interface, own *ownFiles, namespace string) policies.ClusterView {
	view := manifest.NewView(nil)
	reader.Walk(ctx, paths, &manifest.Visitor{Filter: manifest.MayHoldViewObjects, Document: func(doc *manifest.Document) {
		if !own.has(doc.File) {
			inNamespace(doc, namespace)
			view.Add(doc)
		}
	}})
	if live == nil {
		return view
	}
	return &layeredView{input: view, live: live}
}

func problem(p manifest.Problem) report.Problem {
	return report.Problem{File: p.File, Line: p.Line, Message: p.Message}
}

// evaluator runs the engine on each document of the evaluating pass.
type evaluator struct {
	ctx       context.Context
	engine    *policies.Engine
	view      policies.ClusterView
	builder   *report.Builder
	withRules bool
	rules     map[string][]string // enabled rules by kind/namespace, for JUnit
	namespace string              // of the objects read without one
}

// verdict is the engine's report on one document: judge computes it on the
// reader's workers, document hands it to the outputs in input order.
type verdict struct {
	ref report.ObjectRef
	// workload is the object's workload; nil for other objects, which
	// are not evaluated.
	workload *policies.Workload
	report   *policies.Report
	err      error
}

// judge evaluates a document. It runs on the reader's workers: the engine
// and the view are safe for concurrent use, and nothing else is touched.
func (e *evaluator) judge(doc *manifest.Document) any {
	inNamespace(doc, e.namespace)
	v := &verdict{ref: report.ObjectRef{APIVersion: doc.APIVersion, Kind: doc.Kind, Namespace: doc.Namespace, Name: doc.Name}}
	if doc.Object == nil {
		return v
	}
	w, ok := policies.NewWorkload(doc.Object)
	if !ok { // Services and Nodes
		return v
	}
	v.workload, v.ref.Namespace = w, w.Namespace()
	v.report, v.err = evaluate(e.ctx, e.engine, doc.Object, doc.FieldErrors, e.view)
	return v
}

func (e *evaluator) document(doc *manifest.Document) {
	v, ok := doc.Prepared.(*verdict)
	if !ok { // decoded without workers
		v = e.judge(doc).(*verdict)
	}
	switch {
	case v.workload == nil:
		e.reportFieldErrors(doc, v.ref)
		e.builder.AddNotEvaluated(v.ref)
		return
	case v.err != nil:
		e.builder.AddError(report.Problem{File: doc.File, Line: doc.Line, Object: &v.ref, Message: v.err.Error()})
		return
	}
	var fieldLine func(string) int
	if len(v.report.Findings) > 0 {
		fieldLine = manifest.NewFieldLocator(doc).Line
	}
	var rules []string
	if e.withRules {
		rules = e.enabledRules(v.workload.GroupKind, v.ref.Namespace)
	}
	e.builder.AddEvaluated(doc.File, doc.Line, v.ref, v.report, fieldLine, rules)
}

func (e *evaluator) enabledRules(gk schema.GroupKind, namespace string) []string {
	key := gk.String() + "/" + namespace
	rules, ok := e.rules[key]
	if !ok {
		rules = report.EnabledRules(e.engine.Config(), gk, namespace)
		e.rules[key] = rules
	}
	return rules
}

// evaluate runs the engine on one object. A panic in a rule is a bug, but it
// must not lose the report on every other object.
func evaluate(ctx context.Context, engine *policies.Engine, obj runtime.Object, decodeErrs field.ErrorList, view policies.ClusterView) (r *policies.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error while evaluating the rules (please report it): %v", p)
		}
	}()
	return engine.Evaluate(ctx, policies.Request{Object: obj, View: view, Mode: policies.ModeOffline, DecodeErrors: decodeErrs}), nil
}
