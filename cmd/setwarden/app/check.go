package app

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/setwarden/setwarden/cmd/setwarden/internal/manifest"
	"github.com/setwarden/setwarden/cmd/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// outputFormats are the values of check's --output flag.
var outputFormats = []string{"text", "json"}

// checkOptions are the flags of `setwarden check`.
type checkOptions struct {
	filenames  []string
	output     string
	configPath string
}

func newCheckCommand(streams Streams) *cobra.Command {
	o := &checkOptions{output: "text"}
	cmd := &cobra.Command{
		Use:   "check [PATH...] [-f PATH]...",
		Short: "Check manifests offline against the policies",
		Long: `Check Kubernetes manifests against setwarden's policies without a cluster.

Files, directories (read recursively for .yaml, .yml and .json files) and "-" for
standard input are read; multi-document YAML, JSON and kind: List are supported.
The Services and Nodes in the input stand for the cluster: rules that need Nodes
are skipped when the input has none.

Exit status: 0 when nothing is denied, 1 when something is, 2 for usage errors,
an invalid --config, or input that could not be read (everything that could be
read is still checked and reported).`,
		Example: `  setwarden check examples/
  setwarden check -f statefulset.yaml -f cluster/nodes.yaml -o json
  helm template redis bitnami/redis | setwarden check -f -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), streams, append(slices.Clone(o.filenames), args...))
		},
	}
	flags := cmd.Flags()
	flags.StringArrayVarP(&o.filenames, "filename", "f", nil, `file, directory or "-" (stdin) to check; repeatable`)
	flags.StringVarP(&o.output, "output", "o", o.output, "output format: text or json")
	flags.StringVar(&o.configPath, "config", "", "PolicyConfig file (default: the built-in defaults)")
	return cmd
}

func (o *checkOptions) run(ctx context.Context, streams Streams, paths []string) error {
	if !slices.Contains(outputFormats, o.output) {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--output %q is not supported; use text or json", o.output)}
	}
	if len(paths) == 0 {
		return &exitError{code: ExitUsage, msg: `nothing to check: give files or directories, or "-f -" for standard input`}
	}
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	bundle := (&manifest.Reader{Stdin: streams.In}).Read(ctx, paths)
	rep := evaluateBundle(policies.NewEngine(cfg), bundle)
	render := report.Text
	if o.output == "json" {
		render = report.JSON
	}
	if err := render(streams.Out, rep); err != nil {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("writing the report: %v", err)}
	}
	switch {
	case len(rep.Errors) > 0:
		return &exitError{code: ExitUsage}
	case rep.Denied():
		return &exitError{code: ExitDenied}
	}
	return nil
}

// loadConfig reads the PolicyConfig at path, or returns nil (the defaults)
// when path is empty.
func loadConfig(path string) (*policies.Config, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --config: %w", err)
	}
	cfg, err := policies.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// evaluateBundle runs the engine on every workload of the bundle, with the
// bundle's Services and Nodes as the cluster.
func evaluateBundle(engine *policies.Engine, bundle *manifest.Bundle) *report.Report {
	b := report.NewBuilder()
	view := manifest.NewView(bundle.Documents)
	for _, p := range bundle.Notices {
		b.AddNotice(report.Problem{File: p.File, Line: p.Line, Message: p.Message})
	}
	for _, p := range bundle.Errors {
		b.AddError(report.Problem{File: p.File, Line: p.Line, Message: p.Message})
	}
	for _, doc := range bundle.Documents {
		ref := report.ObjectRef{APIVersion: doc.APIVersion, Kind: doc.Kind, Namespace: doc.Namespace, Name: doc.Name}
		if doc.Object == nil {
			b.AddNotEvaluated(ref)
			continue
		}
		w, ok := policies.NewWorkload(doc.Object)
		if !ok { // Services and Nodes
			b.AddNotEvaluated(ref)
			continue
		}
		ref.Namespace = w.Namespace()
		r, err := evaluate(engine, doc.Object, view)
		if err != nil {
			b.AddError(report.Problem{File: doc.File, Line: doc.Line, Object: &ref, Message: err.Error()})
			continue
		}
		b.AddEvaluated(doc.File, doc.Line, ref, r)
	}
	return b.Report()
}

// evaluate runs the engine on one object. A panic in a rule is a bug, but it
// must not lose the report on every other object.
func evaluate(engine *policies.Engine, obj runtime.Object, view policies.ClusterView) (r *policies.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error while evaluating the rules (please report it): %v", p)
		}
	}()
	return engine.Evaluate(policies.Request{Object: obj, View: view, Mode: policies.ModeOffline}), nil
}
