package policies

import "testing"

func TestUnknownRuleMessage(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want string
	}{
		{"a misspelt ID suggests the rule", "agent-toleration", `unknown rule "agent-toleration"; did you mean "agent-tolerations"?`},
		{"two swapped letters suggest the rule", "statefulset-serivce-name", `unknown rule "statefulset-serivce-name"; did you mean "statefulset-service-name"?`},
		{"an ID in capitals suggests the rule", "Topology-Key-Unknown", `unknown rule "Topology-Key-Unknown"; did you mean "topology-key-unknown"?`},
		{"an ID close to no rule suggests nothing", "memory-limits", `unknown rule "memory-limits"`},
		{"an empty ID suggests nothing", "", `unknown rule ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnknownRuleMessage(tt.id); got != tt.want {
				t.Errorf("UnknownRuleMessage(%q) = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
}
