package policies

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// chartConfigMap is the ConfigMap the Helm chart renders, as
// `helm template ... -s templates/configmap.yaml` prints it.
const chartConfigMap = `---
# Source: setwarden/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: sw-setwarden-config
  namespace: policy-system
data:
  config.yaml: |
    apiVersion: setwarden.dev/v1alpha1
    kind: PolicyConfig
    agents:
      selector:
        matchLabels: {example.com/agent: "yes"}
    exemptions:
      namespaces: [policy-system, legacy]
`

func TestParseConfigReadsTheChartsConfigMap(t *testing.T) {
	cfg, err := ParseConfig([]byte(chartConfigMap))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.IsAgent(&metav1.ObjectMeta{Labels: map[string]string{"example.com/agent": "yes"}}) ||
		cfg.IsAgent(&metav1.ObjectMeta{Labels: map[string]string{DefaultAgentLabel: "true"}}) {
		t.Errorf("the agent selector of the ConfigMap's PolicyConfig is not in force: %v", cfg.Agents.Selector)
	}
	for _, ns := range []string{"kube-system", "setwarden-system", "policy-system", "legacy"} {
		if !cfg.NamespaceExempt(ns) {
			t.Errorf("namespace %s is not exempt", ns)
		}
	}
}

func TestParseConfigRefusesWhatIsNotOnePolicyConfig(t *testing.T) {
	head := "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n"
	tests := []struct {
		name, doc, wantErr string
	}{
		{name: "two PolicyConfigs are refused, not the first one read",
			doc: head + "---\n" + head, wantErr: "the file holds 2 YAML documents; it must hold one PolicyConfig, or the v1 ConfigMap the Helm chart renders"},
		{name: "the whole chart rendered is refused",
			doc: chartConfigMap + "---\napiVersion: v1\nkind: Service\nmetadata: {name: sw}\n", wantErr: "the file holds 2 YAML documents"},
		{name: "a ConfigMap without config.yaml names the keys it has",
			doc:     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ops}\ndata:\n  policy.yaml: x\n  other: y\n",
			wantErr: "ConfigMap ops/cfg has no config.yaml key holding the PolicyConfig (it has only other, policy.yaml)"},
		{name: "a ConfigMap without data says so",
			doc: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n", wantErr: "ConfigMap cfg has no config.yaml key holding the PolicyConfig (it has no data keys)"},
		{name: "a ConfigMap's config.yaml with two documents is refused",
			doc:     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  config.yaml: |\n    kind: PolicyConfig\n    ---\n    kind: PolicyConfig\n",
			wantErr: "ConfigMap cfg, key config.yaml: holds 2 YAML documents; it must hold one PolicyConfig"},
		{name: "a ConfigMap's PolicyConfig is validated like any other",
			doc:     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  config.yaml: |\n    " + strings.ReplaceAll(head, "\n", "\n    ") + "rulez: {}\n",
			wantErr: `unknown field "rulez"`},
		{name: "a ConfigMap of another apiVersion is refused", doc: "apiVersion: v2\nkind: ConfigMap\n", wantErr: `a ConfigMap must have apiVersion v1, not "v2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseConfig error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseConfigIgnoresEmptyDocuments(t *testing.T) {
	cfg, err := ParseConfig([]byte("---\n# the policy\n---\napiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\nexemptions: {namespaces: [legacy]}\n---\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.NamespaceExempt("legacy") {
		t.Errorf("exemptions.namespaces %v, want [legacy]", cfg.Exemptions.Namespaces)
	}
}

func TestAgentSelectorOmittedIsTheDefaultLabelAndEmptyIsEveryDaemonSet(t *testing.T) {
	labelled := &metav1.ObjectMeta{Labels: map[string]string{DefaultAgentLabel: "true"}}
	other := &metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}
	tests := []struct {
		name, doc        string
		labelled, others bool
	}{
		{name: "an omitted selector is the default agent label", doc: "", labelled: true},
		{name: "a null selector is the default agent label", doc: "agents: {selector: null}\n", labelled: true},
		{name: "an empty selector selects every DaemonSet", doc: "agents: {selector: {}}\n", labelled: true, others: true},
		{name: "empty matchLabels select every DaemonSet", doc: "agents: {selector: {matchLabels: {}}}\n", labelled: true, others: true},
		{name: "a selector replaces the default label", doc: "agents: {selector: {matchLabels: {app: x}}}\n", others: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustConfig(t, tc.doc)
			if got := cfg.IsAgent(labelled); got != tc.labelled {
				t.Errorf("a DaemonSet labelled %s=true is an agent: %v, want %v", DefaultAgentLabel, got, tc.labelled)
			}
			if got := cfg.IsAgent(other); got != tc.others {
				t.Errorf("another DaemonSet is an agent: %v, want %v", got, tc.others)
			}
		})
	}
}

func TestKubeSystemAndSetwardensNamespaceAreAlwaysExempt(t *testing.T) {
	for _, doc := range []string{"", "exemptions: {namespaces: []}\n", "exemptions: {namespaces: [legacy]}\n"} {
		cfg := mustConfig(t, doc)
		for _, ns := range AlwaysExemptNamespaces {
			if !cfg.NamespaceExempt(ns) {
				t.Errorf("with %q, namespace %s is not exempt", doc, ns)
			}
		}
		if cfg.NamespaceExempt("default") {
			t.Errorf("with %q, namespace default is exempt", doc)
		}
	}
}
