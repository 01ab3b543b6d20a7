package policies

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestParseConfig(t *testing.T) {
	head := "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n"
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{name: "the minimal document is valid", doc: head},
		{
			name: "a full document is valid",
			doc:  string(readTestdata(t, "config/full.yaml")),
		},
		{name: "an unknown key is an error that names it", doc: head + "rulez: {}\n", wantErr: `unknown field "rulez"`},
		{name: "an unknown nested key is an error", doc: head + "agents:\n  selectr: {}\n", wantErr: `unknown field "agents.selectr"`},
		{name: "a wrong apiVersion is refused", doc: "apiVersion: v1\nkind: PolicyConfig\n", wantErr: `apiVersion: Unsupported value: "v1": supported values: "setwarden.dev/v1alpha1"`},
		{name: "an unknown rule ID is refused with the valid ones", doc: head + "rules:\n  no-such-rule: {action: Deny}\n", wantErr: `rules[no-such-rule]: Unsupported value: "no-such-rule": supported values: "agent-tolerations"`},
		{name: "an unknown action is refused", doc: head + "rules:\n  statefulset-service-name: {action: Block}\n", wantErr: `rules[statefulset-service-name].action: Unsupported value: "Block": supported values: "Deny", "Warn", "Audit", "Off"`},
		{name: "Mutate is not a configurable action", doc: head + "rules:\n  agent-tolerations: {action: Mutate}\n", wantErr: `rules[agent-tolerations].action: Unsupported value: "Mutate"`},
		{name: "a bad per-namespace action is refused", doc: head + "rules:\n  statefulset-service-name:\n    namespaces: {team-a: deny}\n", wantErr: `rules[statefulset-service-name].namespaces[team-a]: Unsupported value: "deny"`},
		{name: "a bad taint effect is refused", doc: head + "controlPlaneTaints:\n- {key: a, effect: Never}\n", wantErr: `controlPlaneTaints[0].effect: Unsupported value: "Never"`},
		{name: "a bad agent selector is refused", doc: head + "agents:\n  selector: {matchLabels: {\"bad key!\": x}}\n", wantErr: `agents.selector.matchLabels: Invalid value: "bad key!"`},
		{name: "a bad namespace name is refused", doc: head + "exemptions:\n  namespaces: [Kube_System]\n", wantErr: `exemptions.namespaces[0]: Invalid value: "Kube_System"`},
		{name: "a document that is not YAML is refused", doc: "{", wantErr: "invalid PolicyConfig"},
		{name: "a known feature gate is accepted", doc: head + "featureGates: {TaintTolerationComparisonOperators: true}\n"},
		{name: "an unknown feature gate is refused with the known ones", doc: head + "featureGates: {TaintTolerationComparisonOperator: true}\n",
			wantErr: `featureGates[TaintTolerationComparisonOperator]: Unsupported value: "TaintTolerationComparisonOperator": supported values: "TaintTolerationComparisonOperators"`},
		{name: "a feature gate that is not a boolean is refused", doc: head + "featureGates: {TaintTolerationComparisonOperators: enabled}\n",
			wantErr: "invalid PolicyConfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.doc))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte("apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n"))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	if diff := cmp.Diff(def.ControlPlaneTaints, cfg.ControlPlaneTaints); diff != "" {
		t.Errorf("defaults differ: %s", diff)
	}
	want := []TaintConfig{
		{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule},
		{Key: "node-role.kubernetes.io/master", Effect: corev1.TaintEffectNoSchedule},
	}
	if diff := cmp.Diff(want, def.ControlPlaneTaints); diff != "" {
		t.Errorf("default taints differ: %s", diff)
	}
	if len(def.Exemptions.Namespaces) > 0 {
		t.Errorf("default exemptions.namespaces %v, want none: kube-system and setwarden-system are always exempt", def.Exemptions.Namespaces)
	}
	if !*def.Exemptions.AllowAnnotations {
		t.Errorf("annotation exemptions should be allowed by default")
	}
}

// TestParseConfigReadsUnquotedOff: YAML 1.1 reads `Off` as the boolean
// false; an operator who writes `action: Off` means the rule is off.
func TestParseConfigReadsUnquotedOff(t *testing.T) {
	cfg := mustConfig(t, "rules:\n  statefulset-service-name:\n    action: Off\n    namespaces: {legacy: off}\n")
	rule := ruleByID[RuleStatefulSetServiceName]
	if got := cfg.ActionFor(rule, "apps"); got != ActionOff {
		t.Errorf("action is %q, want Off", got)
	}
	if got := cfg.ActionFor(rule, "legacy"); got != ActionOff {
		t.Errorf("per-namespace action is %q, want Off", got)
	}
}
