package app

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/setwarden/setwarden/internal/check"
	"github.com/setwarden/setwarden/internal/export"
	"github.com/setwarden/setwarden/policies"
)

// exportOptions are the flags of `setwarden export`.
type exportOptions struct {
	configPath  string
	fromCluster bool
	kubeconfig  string
	context     string
	namespace   string
	configMap   string
	output      string
	list        bool
}

func newExportCommand(streams Streams) *cobra.Command {
	o := &exportOptions{output: "yaml"}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Print native admission policies for the rules CEL can express",
		Long: `Export prints, for the rules that CEL can check from the object alone, ValidatingAdmissionPolicies
with their bindings (one per action: Deny, Warn, Audit; Off exports nothing) and a MutatingAdmissionPolicy
that adds the missing control-plane tolerations to agent DaemonSets, under the PolicyConfig (the built-in
defaults, --config FILE, or --config-from-cluster). kube-apiserver 1.36 or later runs them without a webhook:

  setwarden export | kubectl apply -f -

--list says, for each rule, whether it is exported, partly exported (which cases) or not, and why.`,
		Example: `  setwarden export --list
  setwarden export --config policy.yaml -o json
  setwarden export --config-from-cluster | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), streams) },
	}
	flags := cmd.Flags()
	flags.StringVar(&o.configPath, "config", "", "PolicyConfig file (default: the built-in defaults)")
	flags.BoolVar(&o.fromCluster, "config-from-cluster", false, "use the PolicyConfig of the setwarden installed in the cluster")
	flags.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file for --config-from-cluster (default: kubectl's)")
	flags.StringVar(&o.context, "context", "", "kubeconfig context for --config-from-cluster")
	flags.StringVar(&o.namespace, "setwarden-namespace", policies.DefaultNamespace, "namespace of the installed setwarden, for --config-from-cluster")
	flags.StringVar(&o.configMap, "setwarden-configmap", "setwarden-config", "ConfigMap holding the installed PolicyConfig, for --config-from-cluster")
	flags.StringVarP(&o.output, "output", "o", o.output, "output format: yaml or json")
	flags.BoolVar(&o.list, "list", false, "list each rule and how far it is exported, instead of the policies")
	return cmd
}

func (o *exportOptions) run(ctx context.Context, streams Streams) error {
	usage := func(format string, args ...any) error {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf(format, args...)}
	}
	if o.output != "yaml" && o.output != "json" {
		return usage("-o %q is not supported; use yaml or json", o.output)
	}
	if o.list {
		return o.printList(streams)
	}
	if o.configPath != "" && o.fromCluster {
		return usage("--config and --config-from-cluster both name the PolicyConfig: use one")
	}
	cfg, err := check.LoadConfig(o.configPath)
	if err != nil {
		return usage("%s", err.Error())
	}
	if o.fromCluster {
		cs, err := check.NewClient(o.kubeconfig, o.context, "setwarden-export")
		if err != nil {
			return usage("--config-from-cluster: %s", err.Error())
		}
		if cfg, err = check.ConfigFromCluster(ctx, cs, o.namespace, o.configMap); err != nil {
			return usage("--config-from-cluster: %s", err.Error())
		}
	}
	set, err := export.Generate(cfg)
	if err != nil {
		return usage("%s", err.Error())
	}
	if o.output == "json" {
		err = set.WriteJSON(streams.Out)
	} else {
		err = set.WriteYAML(streams.Out, "")
	}
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	return nil
}

// printList prints each rule's export support as a table, or as JSON.
func (o *exportOptions) printList(streams Streams) error {
	list := export.List()
	if o.output == "json" {
		data, err := json.MarshalIndent(list, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(streams.Out, "%s\n", data)
		return err
	}
	tw := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tEXPORT\tNOTE")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Rule, r.Support, r.Note)
	}
	return tw.Flush()
}
