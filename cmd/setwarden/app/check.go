package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/setwarden/setwarden/internal/check"
	"github.com/setwarden/setwarden/internal/fix"
	"github.com/setwarden/setwarden/internal/manifest"
	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// checkOptions are the flags of `setwarden check`.
type checkOptions struct {
	cluster       check.Cluster
	walk          walkOptions
	filenames     []string
	kustomizeDirs []string
	outputs       []string
	configPath    string
	failOn        string
	fix           bool
	diff          bool
	allowEmpty    bool
	// namespace is where objects without one are judged, as kubectl -n.
	namespace string
}

func newCheckCommand(streams Streams) *cobra.Command {
	o := &checkOptions{failOn: string(report.FailOnDeny), namespace: metav1.NamespaceDefault}
	cmd := &cobra.Command{
		Use:   "check [PATH...] [-f PATH]... [-k DIR]...",
		Short: "Check manifests offline against the policies",
		Long: `Check Kubernetes manifests against setwarden's policies without a cluster.

Files, directories (read recursively for .yaml, .yml and .json files) and "-" for
standard input are read; multi-document YAML, JSON and kind: List are supported.
-k DIR builds a kustomization in-process, as kubectl kustomize does.
Objects that name no namespace are judged in the -n namespace ("default"
unless given), as kubectl would create them.

In directories, a Helm chart (a folder with Chart.yaml) is rendered in-process as
helm template renders it (--values, --set, --release-name; vendored dependencies
in charts/), and a folder with a kustomization.yaml is built; their findings
point at the template or resource file. YAML and JSON files without Kubernetes
objects (values files, CI workflows) are skipped with a notice. --exclude GLOB
and a .setwardenignore file at the root of a walked directory (one glob per
line, as .gitignore) skip paths. The Services
and Nodes in the input stand for the cluster: rules that need Nodes are skipped
when the input has none.

Outputs: -o FORMAT writes to standard output, -o FORMAT=FILE to a file; repeat -o
for several (at most one on standard output). Formats: text (coloured on a
terminal unless NO_COLOR is set), json, yaml, sarif (2.1.0) and junit.

--fix adds the missing control-plane tolerations of agent DaemonSets to the input
files in place, keeping comments, key order and every other document as it was;
with --diff it prints a unified diff instead. With standard input, --fix writes
the fixed stream to standard output and the report to standard error.

Exit status: 0 when no finding fails the check, 1 when one does (--fail-on deny,
the default: Deny findings; warn: Deny, Warn and Mutate; never: none), 2 for usage
errors, an invalid --config, input that could not be read, no Kubernetes object
at all (unless --allow-empty), or a --cluster that cannot be reached or read
(everything that could be read is still checked and reported). Without a text
report on standard output, input errors and a one-line summary go to standard
error.`,
		Example: `  setwarden check examples/
  setwarden check -f statefulset.yaml -f cluster/nodes.yaml -o json
  helm template redis bitnami/redis | setwarden check -f -
  setwarden check -k overlays/prod -o text -o sarif=report.sarif -o junit=report.xml
  setwarden check --fix --diff agents/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), streams, append(slices.Clone(o.filenames), args...))
		},
	}
	flags := cmd.Flags()
	flags.StringArrayVarP(&o.filenames, "filename", "f", nil, `file, directory or "-" (stdin) to check; repeatable`)
	flags.StringArrayVarP(&o.kustomizeDirs, "kustomize", "k", nil, "kustomization directory to build and check; repeatable")
	flags.StringArrayVarP(&o.outputs, "output", "o", nil, "output FORMAT or FORMAT=FILE, FORMAT one of "+strings.Join(report.Formats, ", ")+"; repeatable (default text)")
	flags.StringVar(&o.configPath, "config", "", "PolicyConfig file, or the chart's ConfigMap holding one (default: the built-in defaults)")
	flags.StringVar(&o.failOn, "fail-on", o.failOn, "findings that fail the check (exit 1): "+strings.Join(report.FailOnValues, ", "))
	flags.BoolVar(&o.fix, "fix", false, "apply the mutations (agent-tolerations) to the input files in place")
	flags.BoolVar(&o.diff, "diff", false, "with --fix, print a unified diff instead of writing the files")
	flags.BoolVar(&o.allowEmpty, "allow-empty", false, "let an input without any Kubernetes object pass (by default it is an input error)")
	flags.StringVarP(&o.namespace, "namespace", "n", o.namespace, "namespace of the objects that name none, as with kubectl: for exemptions, per-namespace actions, Service lookups and the report")
	addWalkFlags(flags, &o.walk)
	flags.BoolVar(&o.cluster.Enabled, "cluster", false, "also read Services and Nodes from the live cluster (read-only; objects in the input take precedence)")
	flags.StringVar(&o.cluster.Kubeconfig, "kubeconfig", "", "kubeconfig file for --cluster and --config-from-cluster (default: kubectl's)")
	flags.StringVar(&o.cluster.Context, "context", "", "kubeconfig context for --cluster and --config-from-cluster")
	flags.BoolVar(&o.cluster.ConfigFromLive, "config-from-cluster", false, "use the PolicyConfig of the setwarden installed in the cluster")
	flags.StringVar(&o.cluster.Namespace, "setwarden-namespace", policies.DefaultNamespace, "namespace of the installed setwarden, for --config-from-cluster")
	flags.StringVar(&o.cluster.ConfigMap, "setwarden-configmap", "setwarden-config", "ConfigMap holding the installed PolicyConfig, for --config-from-cluster")
	// Shell completion offers the values of -o and --fail-on.
	cmd.RegisterFlagCompletionFunc("output", fixedCompletion(report.Formats...))
	cmd.RegisterFlagCompletionFunc("fail-on", fixedCompletion(report.FailOnValues...))
	return cmd
}

// fixedCompletion completes a flag with values, and never with file names.
func fixedCompletion(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func (o *checkOptions) run(ctx context.Context, streams Streams, paths []string) error {
	if err := o.validate(paths); err != nil {
		return err
	}
	defer check.UseGC()()
	cfg, err := check.LoadConfig(o.configPath)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	live, cfg, clusterErrs := check.Connect(ctx, o.cluster, o.namespace, cfg)
	engine := policies.NewEngine(cfg)
	reader := &manifest.Reader{Stdin: streams.In}
	defer reader.Close()
	o.walk.helm.Namespace = o.namespace // .Release.Namespace, as helm template -n sets it
	expander, err := o.walk.configure(reader)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	paths, inputErrs := expander.Kustomizations(paths, o.kustomizeDirs)
	inputErrs = append(clusterErrs, inputErrs...)
	// With a fixed stream on standard output, the report moves to stderr.
	reportOut := streams.Out
	var notices []report.Problem
	if o.fix {
		fixer := &fix.Files{Engine: engine, Reader: reader, Diff: o.diff, Out: streams.Out, Log: streams.ErrOut, Namespace: o.namespace}
		fixed, errs, fixNotices := fixer.Apply(ctx, paths)
		inputErrs, notices = append(inputErrs, errs...), fixNotices
		if fixed {
			reportOut = streams.ErrOut
		}
	}
	outs, err := report.ParseOutputs(o.outputs)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	// The outputs are written while the input is checked, so that memory
	// does not grow with the number of objects.
	out := report.OpenOutputs(outs, report.FailOn(o.failOn), reportOut)
	rep, err := check.Run(ctx, check.Input{Engine: engine, Reader: reader, Paths: paths, Errors: inputErrs, Notices: notices,
		Out: out, WithRules: out.NeedsRules(), OwnFiles: out.Files(), Live: live, AllowEmpty: o.allowEmpty, Namespace: o.namespace})
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	// Input errors never go unseen: without a text report on a standard
	// stream, which lists them, they and a summary go to standard error.
	if !report.TextOnStream(outs) {
		report.WriteBrief(streams.ErrOut, rep)
	}
	switch {
	case len(rep.Errors) > 0:
		return &exitError{code: ExitUsage}
	case rep.Failed(report.FailOn(o.failOn)):
		return &exitError{code: ExitDenied}
	}
	return nil
}

// validate checks the flags that do not depend on the input.
func (o *checkOptions) validate(paths []string) error {
	if !slices.Contains(report.FailOnValues, o.failOn) {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--fail-on %q is not supported; use %s", o.failOn, strings.Join(report.FailOnValues, ", "))}
	}
	if len(paths) == 0 && len(o.kustomizeDirs) == 0 {
		return &exitError{code: ExitUsage, msg: `nothing to check: give files or directories, -k DIR, or "-f -" for standard input`}
	}
	if msgs := apimachineryvalidation.ValidateNamespaceName(o.namespace, false); len(msgs) > 0 {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--namespace %q: %s", o.namespace, strings.Join(msgs, "; "))}
	}
	if o.diff && !o.fix {
		return &exitError{code: ExitUsage, msg: "--diff shows what --fix would change: use it with --fix"}
	}
	if o.configPath != "" && o.cluster.ConfigFromLive {
		return &exitError{code: ExitUsage, msg: "--config and --config-from-cluster both name the PolicyConfig: use one"}
	}
	if o.fix && len(o.kustomizeDirs) > 0 {
		return &exitError{code: ExitUsage, msg: "--fix cannot edit a kustomization's output: fix its resources with -f instead"}
	}
	if _, err := report.ParseOutputs(o.outputs); err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	return nil
}
