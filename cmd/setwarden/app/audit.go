package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/setwarden/setwarden/internal/audit"
	"github.com/setwarden/setwarden/internal/check"
	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// auditOptions are the flags of `setwarden audit`.
type auditOptions struct {
	kubeconfig    string
	context       string
	namespace     string
	allNamespaces bool
	config        audit.ConfigSource
	whatIf        string
	outputs       []string
	failOn        string
	pageSize      int64
	watch         watchOptions
}

// whatIfFormats are the outputs of --what-if.
var whatIfFormats = []string{"text", "json", "yaml"}

func newAuditCommand(streams Streams) *cobra.Command {
	o := &auditOptions{failOn: string(report.FailOnDeny)}
	cmd := &cobra.Command{
		Use:   "audit [-n NAMESPACE | -A] [--what-if FILE | --watch]",
		Short: "Judge the workloads that already run in a cluster",
		Long: `Judge the workloads already in a cluster as the validating webhook would judge
them if they were created now: Pods, ReplicationControllers, Deployments,
ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs, against the cluster's
Services and Nodes. Objects whose controller is one of these kinds (a
Deployment's ReplicaSets, their Pods, a CronJob's Jobs) are judged through
their controller. Read-only: it only lists, page by page.

The namespace is -n NAMESPACE, all of them with -A, else the kubeconfig
context's (or "default"), as with kubectl. The PolicyConfig is --config FILE,
else the installed setwarden's (ConfigMap setwarden-config in
setwarden-system), else, when that ConfigMap does not exist, the built-in
defaults; the summary says which. --config-from-cluster requires the installed
one.

Outputs are check's (-o text|json|yaml|sarif|junit, FORMAT=FILE, repeatable),
each result naming the object, with an empty file and line.

--watch audits continuously, as the chart's audit Deployment does: every
namespace (or -n NAMESPACE), each workload judged again when it, its
governing Service, the Nodes (the rules that read Nodes only) or the
PolicyConfig change. It keeps one openreports.io Report per workload with
findings, raises a PolicyViolation Warning Event when a finding appears
(--events=false: none) and serves setwarden_audit_* metrics; with
--leader-elect (the default) only the replica holding the Lease writes.

--what-if FILE judges each object's next update with the current PolicyConfig
and with the one in FILE, and reports per rule the objects that would newly be
denied, warned or audited, or no longer flagged (-o text|json|yaml).

Exit status: 0 when no finding fails the audit, 1 when one does (--fail-on
deny, the default: Deny findings; warn: Deny and Warn; never: none; with
--what-if: newly denied, or newly denied or warned, objects), 2 for usage
errors, an invalid PolicyConfig, or a cluster that cannot be read.`,
		Example: `  setwarden audit -A
  setwarden audit -n shop -o json
  setwarden audit -A -o text -o sarif=audit.sarif --fail-on warn
  setwarden audit -A --what-if proposed-policy.yaml
  setwarden audit --watch --config-from-cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.namespace = strings.TrimSpace(o.namespace)
			if o.watch.enabled {
				return o.runWatch(cmd.Context(), streams, cmd.Flags().Changed("namespace"))
			}
			return o.run(cmd.Context(), streams, cmd.Flags().Changed("namespace"))
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: kubectl's)")
	flags.StringVar(&o.context, "context", "", "kubeconfig context")
	flags.StringVarP(&o.namespace, "namespace", "n", "", "namespace to audit (default: the context's)")
	flags.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "audit every namespace")
	flags.StringVar(&o.config.File, "config", "", "PolicyConfig file (default: the installed one, else the built-in defaults)")
	flags.BoolVar(&o.config.FromCluster, "config-from-cluster", false, "require the PolicyConfig of the setwarden installed in the cluster")
	flags.StringVar(&o.config.Namespace, "setwarden-namespace", policies.DefaultNamespace, "namespace of the installed setwarden")
	flags.StringVar(&o.config.ConfigMap, "setwarden-configmap", "setwarden-config", "ConfigMap holding the installed PolicyConfig")
	flags.StringVar(&o.whatIf, "what-if", "", "PolicyConfig file to compare the current one with")
	flags.StringArrayVarP(&o.outputs, "output", "o", nil, "output FORMAT or FORMAT=FILE, FORMAT one of "+strings.Join(report.Formats, ", ")+"; repeatable (default text)")
	flags.StringVar(&o.failOn, "fail-on", o.failOn, "findings that fail the audit (exit 1): "+strings.Join(report.FailOnValues, ", "))
	flags.Int64Var(&o.pageSize, "page-size", audit.DefaultPageSize, "objects per list request")
	o.watch.bindFlags(cmd)
	return cmd
}

func (o *auditOptions) run(ctx context.Context, streams Streams, namespaceSet bool) error {
	outs, err := o.validate(namespaceSet)
	if err != nil {
		return err
	}
	defer check.UseGC()()
	cs, contextNamespace, err := audit.Connect(o.kubeconfig, o.context)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	cluster := audit.Cluster{Client: cs, Namespace: o.namespace, PageSize: o.pageSize}
	switch {
	case o.allNamespaces:
		cluster.Namespace = ""
	case !namespaceSet:
		cluster.Namespace = contextNamespace
	}
	cfg, source, err := audit.LoadConfig(ctx, cs, o.config)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	if o.whatIf != "" {
		return o.runWhatIf(ctx, streams, outs, audit.WhatIfInput{Cluster: cluster, Current: policies.NewEngine(cfg), CurrentSource: source})
	}
	out := report.OpenOutputs(outs, report.FailOn(o.failOn), streams.Out)
	rep, err := audit.Run(ctx, audit.Input{Cluster: cluster, Engine: policies.NewEngine(cfg), ConfigSource: source,
		Out: out, WithRules: out.NeedsRules()})
	if rep == nil {
		_ = out.Finish(&report.Report{}) // close the files: nothing was written
	}
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	return o.exit(len(rep.Errors) > 0, rep.Failed(report.FailOn(o.failOn)))
}

// validate checks the flags that do not depend on the cluster.
func (o *auditOptions) validate(namespaceSet bool) ([]report.Output, error) {
	usage := func(format string, args ...any) error {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf(format, args...)}
	}
	if !slices.Contains(report.FailOnValues, o.failOn) {
		return nil, usage("--fail-on %q is not supported; use %s", o.failOn, strings.Join(report.FailOnValues, ", "))
	}
	if o.config.File != "" && o.config.FromCluster {
		return nil, usage("--config and --config-from-cluster both name the PolicyConfig: use one")
	}
	if o.allNamespaces && namespaceSet {
		return nil, usage("-n and -A both choose the namespaces: use one")
	}
	if namespaceSet && o.namespace == "" {
		return nil, usage("-n needs a namespace; use -A for all of them")
	}
	if o.pageSize <= 0 {
		return nil, usage("--page-size must be positive")
	}
	outs, err := report.ParseOutputs(o.outputs)
	if err != nil {
		return nil, usage("%s", err.Error())
	}
	if o.whatIf != "" {
		for _, out := range outs {
			if !slices.Contains(whatIfFormats, out.Format) {
				return nil, usage("--what-if writes %s, not %s", strings.Join(whatIfFormats, ", "), out.Format)
			}
		}
	}
	return outs, nil
}

// runWhatIf compares the current PolicyConfig with the one in --what-if.
func (o *auditOptions) runWhatIf(ctx context.Context, streams Streams, outs []report.Output, in audit.WhatIfInput) error {
	proposed, err := audit.ReadConfigFile(o.whatIf)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	in.Proposed, in.ProposedSource = policies.NewEngine(proposed), "file "+o.whatIf
	rep, err := audit.WhatIf(ctx, in)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	for _, out := range outs {
		if err := rep.WriteOutput(out, streams.Out); err != nil {
			return &exitError{code: ExitUsage, msg: err.Error()}
		}
	}
	return o.exit(len(rep.Errors) > 0, rep.Failed(report.FailOn(o.failOn)))
}

// exit turns an audit's outcome into its exit status.
func (o *auditOptions) exit(readErrors, failed bool) error {
	switch {
	case readErrors:
		return &exitError{code: ExitUsage}
	case failed:
		return &exitError{code: ExitDenied}
	}
	return nil
}
