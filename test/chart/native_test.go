package chart

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/internal/export"
	"github.com/setwarden/setwarden/policies"
)

// TestChartNativePoliciesFileIsExport keeps files/native-policies.yaml equal
// to what `setwarden export` writes for the default PolicyConfig: run
// `make native-policies` after changing an exported rule.
func TestChartNativePoliciesFileIsExport(t *testing.T) {
	data, err := os.ReadFile(chartDir + "/files/native-policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	for len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
		lines = lines[1:]
	}
	set, err := export.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := set.WriteYAML(&want, ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String(), strings.Join(lines, "")); diff != "" {
		t.Errorf("files/native-policies.yaml is not what setwarden export writes; run make native-policies (-want +got):\n%s", diff)
	}
}

var nativeKinds = []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}

// TestChartNativePoliciesFollowConfig renders the native policies and
// requires them to be what `setwarden export` writes for the PolicyConfig
// the chart renders into its ConfigMap, under the release's names.
func TestChartNativePoliciesFollowConfig(t *testing.T) {
	cases := []struct {
		name, release, fullname string
		args                    []string
		// webhook says whether the webhook server is installed too.
		webhook bool
	}{
		{name: "the defaults, next to the webhooks", release: "setwarden", fullname: "setwarden", webhook: true},
		{name: "native policies only, with exemptions and a rule turned off", release: "sw", fullname: "sw-setwarden", args: []string{
			"--set", "webhook.enabled=false", "--set", "config.exemptions.namespaces={legacy}", "--set", "config.exemptions.allowAnnotations=false",
			"--set", "config.rules.toleration-value-fragile.action=Off"}},
		{name: "objects exempt by name, from every rule or from some", release: "sw", fullname: "sw-setwarden", webhook: true, args: []string{
			"--set-json", `config.exemptions.objects=[{"kind":"StatefulSet","namespace":"vendor","name":"redis","reason":"vendor chart"},` +
				`{"kind":"DaemonSet","namespace":"vendor","name":"agent","rules":["agent-tolerations"],"reason":"runs on workers only"}]`}},
		{name: "objects exempt by name without annotation exemptions", release: "sw", fullname: "sw-setwarden", webhook: true, args: []string{
			"--set", "config.exemptions.allowAnnotations=false",
			"--set-json", `config.exemptions.objects=[{"kind":"DaemonSet","namespace":"vendor","name":"agent","rules":["agent-tolerations","toleration-value-fragile"],"reason":"runs on workers only"}]`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := chartObjects(t, chartTemplate(t, tc.release, policies.DefaultNamespace, append([]string{"--set", "nativePolicies.enabled=true"}, tc.args...)...))
			cm := &corev1.ConfigMap{}
			chartDecode(t, objs, "ConfigMap", tc.fullname+"-config", cm)
			cfg, err := policies.ParseConfig([]byte(cm.Data["config.yaml"]))
			if err != nil {
				t.Fatal(err)
			}
			set, err := export.Generate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := set.WriteYAML(&want, ""); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				if slices.Contains(nativeKinds, o.Kind) {
					got = append(got, string(o.YAML))
				}
			}
			rename := regexp.MustCompile(`\b` + regexp.QuoteMeta(tc.fullname) + `-`)
			if diff := cmp.Diff(nativeDocs(t, want.String(), nil), nativeDocs(t, strings.Join(got, "\n---\n"), func(s string) string {
				return rename.ReplaceAllString(s, export.NamePrefix)
			})); diff != "" {
				t.Errorf("rendered native policies differ from setwarden export's for the chart's PolicyConfig (-want +got):\n%s", diff)
			}
			for _, name := range chartKindNames(objs) {
				kind := strings.SplitN(name, "/", 2)[0]
				isNative := slices.Contains(nativeKinds, kind) || kind == "ConfigMap"
				if !tc.webhook && !isNative {
					t.Errorf("webhook.enabled=false renders %s", name)
				}
			}
		})
	}
}

// nativeDocs decodes a YAML stream into maps keyed by kind and name,
// without labels (the chart adds its own), renaming names with rename.
func nativeDocs(t *testing.T, stream string, rename func(string) string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(stream, -1) {
		if rename != nil {
			doc = rename(doc)
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		if m == nil {
			continue
		}
		meta := m["metadata"].(map[string]any)
		delete(meta, "labels")
		out[m["kind"].(string)+"/"+meta["name"].(string)] = m
	}
	if len(out) == 0 {
		t.Fatal("no native policies")
	}
	return out
}
