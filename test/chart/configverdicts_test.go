package chart

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/cmd/setwarden/app"
	"github.com/setwarden/setwarden/internal/check"
	"github.com/setwarden/setwarden/internal/manifest"
	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
	swwebhook "github.com/setwarden/setwarden/webhook"
)

// examplesDir holds the manifests both fronts judge: good, broken and the
// Nodes that stand for a cluster.
const examplesDir = "../../examples"

// verdict is one result of a check report, without where it was read.
type verdict struct {
	Rule, Action, Field, Message string
	Object                       struct{ Kind, Namespace, Name string }
}

// verdicts is a JSON report's results and exemption counts.
type verdicts struct {
	Results []verdict      `json:"results"`
	Summary map[string]any `json:"summary"`
}

// TestChartConfigMeansTheSameToCheckAndTheWebhook renders the chart with
// several config values and judges examples/ twice: with `setwarden check
// --config` given the ConfigMap `helm template -s templates/configmap.yaml`
// prints, and with the PolicyConfig the webhook server loads, found by
// following the Deployment's --config argument through its volume mounts
// to the ConfigMap and read with the server's own loader. Both must give
// the same verdicts, and the server's mutating webhook must change exactly
// the DaemonSets that check says it would.
func TestChartConfigMeansTheSameToCheckAndTheWebhook(t *testing.T) {
	cases := []struct {
		name string
		args []string
		// agents are the example DaemonSets the mutating webhook changes.
		agents []string
	}{
		{name: "the defaults", agents: []string{"logging/fluent-bit"}},
		{name: "a custom agent selector", agents: []string{},
			args: []string{"--set-json", `config.agents.selector={"matchLabels":{"app.kubernetes.io/name":"node-exporter"}}`}},
		{name: "extra exempt namespaces", agents: []string{},
			args: []string{"--set-json", `config.exemptions.namespaces=["logging","shop"]`}},
		{name: "per-namespace actions", agents: []string{"logging/fluent-bit"},
			args: []string{"--set-json", `config.rules={"statefulset-service-missing":{"action":"Deny","namespaces":{"data":"Off"}},` +
				`"affinity-invalid":{"namespaces":{"shop":"Warn"}},"agent-tolerations":{"namespaces":{"logging":"Audit"}}}`}},
		{name: "an empty selector makes every DaemonSet an agent", agents: []string{"logging/fluent-bit", "logging/log-shipper"},
			args: []string{"--set-json", `config.agents.selector={"matchLabels":{}}`}},
		{name: "every value set", args: []string{"-f", chartEverything}, agents: []string{"logging/fluent-bit", "logging/log-shipper"}},
	}
	var defaults []verdict
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The CLI's side: the rendered ConfigMap, as an operator saves it.
			single := slices.Concat([]string{"template", "sw", chartDir, "--namespace", chartNamespace,
				"--kube-version", chartKubeVersion, "-s", "templates/configmap.yaml"}, tc.args)
			cmYAML, stderr, ok := chartRunHelm(t, single...)
			if !ok {
				t.Fatalf("helm %s: %s", strings.Join(single, " "), stderr)
			}
			policyFile := filepath.Join(t.TempDir(), "policy.yaml")
			if err := os.WriteFile(policyFile, []byte(cmYAML), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, errOut bytes.Buffer
			code := app.Run(t.Context(), []string{"check", "--config", policyFile, "-o", "json", examplesDir}, nil, &stdout, &errOut)
			if code != app.ExitDenied {
				t.Fatalf("setwarden check --config <rendered ConfigMap> exited %d, want %d (examples/broken):\n%s", code, app.ExitDenied, errOut.String())
			}
			fromCheck := decodeVerdicts(t, stdout.Bytes())

			// The server's side: the file its --config argument names.
			cfg := serverConfig(t, chartObjects(t, chartTemplate(t, "sw", chartNamespace, tc.args...)))
			fromServer := engineVerdicts(t, policies.NewEngine(cfg))
			if diff := cmp.Diff(fromCheck, fromServer); diff != "" {
				t.Errorf("verdicts on examples/ (-check --config ConfigMap +server's PolicyConfig):\n%s", diff)
			}

			// The mutating webhook changes the agents check reports as Mutate.
			mutated := mutatedDaemonSets(t, cfg)
			if diff := cmp.Diff(tc.agents, mutated); diff != "" {
				t.Errorf("DaemonSets the mutating webhook changes (-want +got):\n%s", diff)
			}
			toMutate := []string{}
			for _, v := range fromCheck.Results {
				if v.Action == "Mutate" && !slices.Contains(toMutate, v.Object.Namespace+"/"+v.Object.Name) {
					toMutate = append(toMutate, v.Object.Namespace+"/"+v.Object.Name)
				}
			}
			slices.Sort(toMutate)
			if !slices.Equal(toMutate, mutated) {
				t.Errorf("check reports Mutate for %v, the mutating webhook changes %v", toMutate, mutated)
			}

			// Each setting is in force: the verdicts differ from the defaults'.
			if i == 0 {
				defaults = fromCheck.Results
			} else if defaults != nil && cmp.Equal(defaults, fromCheck.Results) {
				t.Errorf("the verdicts are those of the defaults: %v changed nothing", tc.args)
			}
		})
	}
}

// TestChartRefusesTheEmptyAgentSelector: {} was the chart's default for the
// default agent label and now selects every DaemonSet, as in any
// PolicyConfig, so the chart refuses it rather than widen an upgraded
// release's agents silently.
func TestChartRefusesTheEmptyAgentSelector(t *testing.T) {
	_, stderr, ok := chartRunHelm(t, "template", "sw", chartDir, "--namespace", chartNamespace,
		"--kube-version", chartKubeVersion, "--set-json", "config.agents.selector={}")
	want := `config.agents.selector: {} selects every DaemonSet in a PolicyConfig, but this chart used to read it as the default agent label (setwarden.dev/agent: "true"). Remove it (or --set config.agents.selector=null) to keep the default label, or set {matchLabels: {}} to make every DaemonSet an agent`
	if ok || !strings.Contains(stderr, want) {
		t.Errorf("helm template with config.agents.selector={} succeeded %v, stderr:\n%s\nwant it to fail with %q", ok, stderr, want)
	}
	out := chartTemplate(t, "sw", chartNamespace, "--set", "config.agents.selector=null")
	cm := &corev1.ConfigMap{}
	chartDecode(t, chartObjects(t, out), "ConfigMap", "sw-setwarden-config", cm)
	cfg, err := policies.ParseConfig([]byte(cm.Data[policies.ConfigMapKey]))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{policies.DefaultAgentLabel: "true"}; !cmp.Equal(want, cfg.Agents.Selector.MatchLabels) {
		t.Errorf("config.agents.selector=null renders the selector %v, want the default label", cfg.Agents.Selector)
	}
}

func decodeVerdicts(t *testing.T, data []byte) verdicts {
	t.Helper()
	var v verdicts
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("no JSON report: %v\n%s", err, data)
	}
	return v
}

// serverConfig follows the server container's --config argument to the
// volume mounted there, and that volume to its ConfigMap key, writes that
// key's text where the server would read it and loads it with the server's
// loader.
func serverConfig(t *testing.T, objs []chartObject) *policies.Config {
	t.Helper()
	var dep *appsv1.Deployment
	var configPath string
	var mounts []corev1.VolumeMount
	for _, o := range objs {
		if o.Kind != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		chartDecode(t, objs, o.Kind, o.Name, d)
		for _, c := range d.Spec.Template.Spec.Containers {
			if len(c.Args) == 0 || c.Args[0] != "serve" {
				continue
			}
			for _, a := range c.Args {
				if p, ok := strings.CutPrefix(a, "--config="); ok {
					dep, configPath, mounts = d, p, c.VolumeMounts
				}
			}
		}
	}
	if dep == nil {
		t.Fatalf("no Deployment runs setwarden serve with a --config argument")
	}
	var volumeName, file string
	for _, m := range mounts {
		if rel, ok := strings.CutPrefix(configPath, strings.TrimSuffix(m.MountPath, "/")+"/"); ok {
			volumeName, file = m.Name, rel
			if m.SubPath != "" {
				t.Fatalf("--config is mounted with subPath %q: the server would never see a config change", m.SubPath)
			}
		}
	}
	if volumeName == "" {
		t.Fatalf("no volume is mounted at --config=%s", configPath)
	}
	var source *corev1.ConfigMapVolumeSource
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Name == volumeName {
			source = v.ConfigMap
		}
	}
	if source == nil {
		t.Fatalf("volume %s mounted at --config=%s is not a ConfigMap", volumeName, configPath)
	}
	key := file
	for _, item := range source.Items {
		if item.Path == file {
			key = item.Key
		}
	}
	cm := &corev1.ConfigMap{}
	chartDecode(t, objs, "ConfigMap", source.Name, cm)
	text, ok := cm.Data[key]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s for --config=%s", source.Name, key, configPath)
	}
	local := filepath.Join(t.TempDir(), filepath.FromSlash(path.Clean(configPath)))
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := swwebhook.LoadConfigFile(local)
	if err != nil {
		t.Fatalf("the server would refuse its --config: %v", err)
	}
	return cfg
}

// engineVerdicts judges examples/ with an engine, as check does.
func engineVerdicts(t *testing.T, engine *policies.Engine) verdicts {
	t.Helper()
	var out bytes.Buffer
	reader := &manifest.Reader{}
	defer reader.Close()
	if _, err := check.Run(t.Context(), check.Input{Engine: engine, Reader: reader, Paths: []string{examplesDir}, Out: report.NewJSON(&out)}); err != nil {
		t.Fatal(err)
	}
	return decodeVerdicts(t, out.Bytes())
}

// mutatedDaemonSets sends every example DaemonSet to the server's mutating
// webhook and returns namespace/name of those it patches.
func mutatedDaemonSets(t *testing.T, cfg *policies.Config) []string {
	t.Helper()
	h := &swwebhook.Handlers{Engines: swwebhook.NewEngineStore(policies.NewEngine(cfg)), Metrics: swwebhook.NewMetrics(prometheus.NewRegistry())}
	mutate := h.MutatingWebhook()
	mutated := []string{}
	files, err := filepath.Glob(filepath.Join(examplesDir, "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---") {
			ds := &appsv1.DaemonSet{}
			if err := yaml.Unmarshal([]byte(doc), ds); err != nil || ds.Kind != "DaemonSet" {
				continue
			}
			raw, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			resp := admissionResponse(t, mutate, ds.Namespace, raw)
			if !resp.Allowed {
				t.Errorf("the mutating webhook refused DaemonSet %s/%s: %v", ds.Namespace, ds.Name, resp.Result)
			}
			if len(resp.Patch) > 0 {
				mutated = append(mutated, ds.Namespace+"/"+ds.Name)
			}
		}
	}
	slices.Sort(mutated)
	return mutated
}

// admissionResponse posts the AdmissionReview the API server would send for
// creating a DaemonSet.
func admissionResponse(t *testing.T, h http.Handler, namespace string, raw []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	gvk := metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("5b1e3c0a-7d7e-4a55-9f0e-3f1d2a9c0b11"), Kind: gvk, Operation: admissionv1.Create,
			Resource:  metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"},
			Namespace: namespace, Object: runtime.RawExtension{Raw: raw},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	out := admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("decoding the webhook's response %q: %v", rec.Body.String(), err)
	}
	return out.Response
}
