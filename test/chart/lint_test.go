package chart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/policies"
)

// TestChartLintStrict lints the chart with warnings as errors, with the
// defaults, in every TLS mode and with a values file that sets everything.
func TestChartLintStrict(t *testing.T) {
	cases := map[string][]string{"the default values": nil}
	for _, mode := range chartTLSModes {
		cases["tls.mode "+mode] = chartModeArgs(mode)
		cases["every value set, tls.mode "+mode] = append([]string{"-f", chartEverything}, chartModeArgs(mode)...)
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			all := append([]string{"lint", "--strict", chartDir, "--namespace", chartNamespace, "--kube-version", chartKubeVersion}, args...)
			stdout, stderr, ok := chartRunHelm(t, all...)
			if !ok || strings.Contains(stdout, "[WARNING]") || strings.Contains(stdout, "[ERROR]") {
				t.Fatalf("helm %s is not clean:\n%s%s", strings.Join(all, " "), stdout, stderr)
			}
		})
	}
}

// TestChartRendersEveryTLSMode checks which objects each TLS mode adds: the
// set of rendered objects is the chart's contract with the e2e install.
func TestChartRendersEveryTLSMode(t *testing.T) {
	common := []string{
		"ClusterRole/sw-setwarden", "ClusterRoleBinding/sw-setwarden", "ConfigMap/sw-setwarden-config",
		"Deployment/sw-setwarden", "MutatingWebhookConfiguration/sw-setwarden", "NetworkPolicy/sw-setwarden",
		"PodDisruptionBudget/sw-setwarden", "Service/sw-setwarden", "ServiceAccount/sw-setwarden",
		"ValidatingWebhookConfiguration/sw-setwarden",
	}
	cases := []struct {
		mode string
		want []string
	}{
		{mode: "self-managed", want: []string{"ClusterRole/sw-setwarden-tls", "ClusterRoleBinding/sw-setwarden-tls",
			"Lease/sw-setwarden-tls", "Role/sw-setwarden-tls", "RoleBinding/sw-setwarden-tls", "Secret/sw-setwarden-tls"}},
		{mode: "cert-manager", want: []string{"Certificate/sw-setwarden-ca", "Certificate/sw-setwarden-serving",
			"Issuer/sw-setwarden-ca", "Issuer/sw-setwarden-selfsigned"}},
		// The operator's Secret is theirs: the chart neither renders nor may write it.
		{mode: "secret"},
	}
	for _, tc := range cases {
		t.Run("tls.mode "+tc.mode, func(t *testing.T) {
			objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, chartModeArgs(tc.mode)...))
			got := chartKindNames(objs)
			want := append(slices.Clone(common), tc.want...)
			slices.Sort(got)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rendered objects (-want +got):\n%s", diff)
			}
			for _, o := range objs {
				clusterScoped := strings.HasPrefix(o.Kind, "Cluster") || strings.HasSuffix(o.Kind, "WebhookConfiguration")
				if !clusterScoped && o.Namespace != chartNamespace {
					t.Errorf("%s/%s is in namespace %q, want the release namespace %q", o.Kind, o.Name, o.Namespace, chartNamespace)
				}
			}
		})
	}
}

// TestChartSchemaRefusesBadValues asserts that bad values fail the install
// with a message naming the key, from values.schema.json or the chart's own
// cross-value checks.
func TestChartSchemaRefusesBadValues(t *testing.T) {
	cases := []struct {
		name string
		args []string
		// valuesFile, when set, is written to a file passed with -f.
		valuesFile string
		want       []string
	}{
		{name: "an unknown TLS mode",
			args: []string{"--set", "tls.mode=letsencrypt"},
			want: []string{"- at '/tls/mode': value must be one of 'self-managed', 'cert-manager', 'secret'"}},
		{name: "secret mode without the Secret's name and CA bundle",
			args: []string{"--set", "tls.mode=secret"},
			want: []string{"- at '/tls/secretName': minLength: got 0, want 1", "- at '/tls/caBundle': '' does not match pattern"}},
		{name: "secret mode with a CA bundle that is not PEM",
			args: []string{"--set", "tls.mode=secret", "--set", "tls.secretName=tls", "--set", "tls.caBundle=Zm9v"},
			want: []string{"- at '/tls/caBundle': 'Zm9v' does not match pattern"}},
		{name: "a webhook timeout above the API server's 30 seconds",
			args: []string{"--set", "webhook.timeoutSeconds=31"},
			want: []string{"- at '/webhook/timeoutSeconds': maximum: got 31, want 30"}},
		{name: "a failure policy that is neither Ignore nor Fail",
			args: []string{"--set", "webhook.mutating.failurePolicy=Retry"},
			want: []string{"- at '/webhook/mutating/failurePolicy': value must be one of 'Ignore', 'Fail'"}},
		{name: "zero replicas",
			args: []string{"--set", "replicaCount=0"},
			want: []string{"- at '/replicaCount': minimum: got 0, want 1"}},
		{name: "a misspelt top-level key",
			args: []string{"--set", "replicas=3"},
			want: []string{"- at '': additional properties 'replicas' not allowed"}},
		{name: "a key at the wrong level",
			args: []string{"--set", "webhook.failurePolicy=Fail"},
			want: []string{"- at '/webhook': additional properties 'failurePolicy' not allowed"}},
		{name: "a rule ID setwarden does not have",
			args: []string{"--set", "config.rules.statefulset-headless.action=Deny"},
			want: []string{"- at '/config/rules': additional properties 'statefulset-headless' not allowed"}},
		{name: "an action that is not configurable",
			args: []string{"--set", "config.rules.affinity-invalid.action=Mutate"},
			want: []string{"- at '/config/rules/affinity-invalid/action': value must be one of 'Deny', 'Warn', 'Audit', 'Off'"}},
		{name: "an unquoted Off, which YAML reads as false",
			valuesFile: "config:\n  rules:\n    toleration-value-fragile:\n      action: Off\n",
			want:       []string{"- at '/config/rules/toleration-value-fragile/action': got boolean, want string"}},
		{name: "a per-namespace action on a namespace name Kubernetes refuses",
			args: []string{"--set", "config.rules.affinity-invalid.namespaces.Team_A=Warn"},
			want: []string{"- at '/config/rules/affinity-invalid/namespaces': additional properties 'Team_A' not allowed"}},
		{name: "a taint effect Kubernetes does not have",
			args: []string{"--set", "config.controlPlaneTaints[0].key=a", "--set", "config.controlPlaneTaints[0].effect=NoRun"},
			want: []string{"- at '/config/controlPlaneTaints/0/effect': value must be one of 'NoSchedule', 'PreferNoSchedule', 'NoExecute'"}},
		{name: "an exempt namespace that is not a namespace name",
			args: []string{"--set", "config.exemptions.namespaces[0]=Kube_System"},
			want: []string{"- at '/config/exemptions/namespaces/0': 'Kube_System' does not match pattern"}},
		{name: "a webhook port out of range",
			args: []string{"--set", "webhook.port=70000"},
			want: []string{"- at '/webhook/port': maximum: got 70,000, want 65,535"}},
		{name: "a graceful shutdown timeout without a unit",
			args: []string{"--set-string", "gracefulShutdownTimeout=30"},
			want: []string{"- at '/gracefulShutdownTimeout': '30' does not match pattern"}},
		{name: "an image digest that is not sha256",
			args: []string{"--set", "image.digest=latest"},
			want: []string{"- at '/image/digest': 'latest' does not match pattern"}},
		{name: "an extra argument that is not a flag",
			args: []string{"--set", "extraArgs[0]=serve"},
			want: []string{"- at '/extraArgs/0': 'serve' does not match pattern"}},
		{name: "the probe port on the webhook port",
			args: []string{"--set", "probes.port=9443"},
			want: []string{"probes.port 9443 is also webhook.port; give each server its own port"}},
		{name: "the metrics port on the probe port",
			args: []string{"--set", "metrics.port=8081"},
			want: []string{"metrics.port 8081 is also probes.port; give each server its own port"}},
		{name: "a grace period the preStop sleep uses up",
			args: []string{"--set", "terminationGracePeriodSeconds=5"},
			want: []string{"terminationGracePeriodSeconds 5 must exceed preStopSleepSeconds 5"}},
		{name: "an existing ServiceAccount without its name",
			args: []string{"--set", "serviceAccount.create=false"},
			want: []string{"serviceAccount.name is required when serviceAccount.create is false"}},
		{name: "an objectSelector label that contradicts the agent selector",
			args: []string{"--set-string", "webhook.objectSelector.matchLabels.setwarden\\.dev/agent=false"},
			want: []string{"webhook.objectSelector.matchLabels.setwarden.dev/agent=false contradicts the agent selector's setwarden.dev/agent=true"}},
		{name: "a match condition without its expression",
			args: []string{"--set", "webhook.matchConditions[0].name=x"},
			want: []string{"- at '/webhook/matchConditions/0': missing property 'expression'"}},
		{name: "an extra volume mount without its path",
			args: []string{"--set", "extraVolumeMounts[0].name=x"},
			want: []string{"- at '/extraVolumeMounts/0': missing property 'mountPath'"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "sw", chartDir, "--namespace", chartNamespace, "--kube-version", chartKubeVersion}
			if tc.valuesFile != "" {
				// Not under t.TempDir(): helm splits -f at commas, which case names have.
				f, err := os.CreateTemp("", "setwarden-values-*.yaml")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = os.Remove(f.Name()) })
				if _, err := f.WriteString(tc.valuesFile); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-f", f.Name())
			}
			_, stderr, ok := chartRunHelm(t, append(args, tc.args...)...)
			if ok {
				t.Fatalf("helm template accepted %v", tc.args)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("the error does not contain %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestChartSchemaKnowsEveryRule keeps the schema's rule IDs in step with the
// engine's catalogue, so a new rule can be configured through the chart.
func TestChartSchemaKnowsEveryRule(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Config struct {
				Properties struct {
					Rules struct {
						Properties map[string]json.RawMessage `json:"properties"`
					} `json:"rules"`
				} `json:"properties"`
			} `json:"config"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	var got []string
	for id := range schema.Properties.Config.Properties.Rules.Properties {
		got = append(got, id)
	}
	want := policies.RuleIDs()
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule IDs in values.schema.json (-policies.RuleIDs() +schema):\n%s", diff)
	}
}

// chartOpaqueValues are maps documented as a whole, being Kubernetes types.
var chartOpaqueValues = []string{"resources", "audit.resources", "podSecurityContext", "containerSecurityContext"}

// TestChartReadmeDocumentsEveryValue checks that every value of values.yaml
// has a row in the README's table.
func TestChartReadmeDocumentsEveryValue(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	documented := func(path string) bool { return strings.Contains(string(readme), "| `"+path+"` |") }
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for key, value := range m {
			path := strings.TrimPrefix(prefix+"."+key, ".")
			if child, ok := value.(map[string]any); ok && len(child) > 0 && !slices.Contains(chartOpaqueValues, path) {
				walk(path, child)
				continue
			}
			if !documented(path) {
				t.Errorf("README.md has no row for the value %s", path)
			}
		}
	}
	walk("", values)
}
