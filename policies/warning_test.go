package policies

import (
	"strings"
	"testing"
)

func TestWarning(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, rule, fix, want string
	}{
		{name: "a short warning is the rule and the fix", rule: "agent-tolerations", fix: "add the tolerations",
			want: "agent-tolerations: add the tolerations"},
		{name: "a long warning is cut to 256 bytes with an ellipsis", rule: "r", fix: long,
			want: "r: " + strings.Repeat("x", 250) + "..."},
		{name: "a cut never splits a character", rule: "r", fix: strings.Repeat("x", 249) + "é" + long,
			want: "r: " + strings.Repeat("x", 249) + "..."},
		{name: "a warning of exactly 256 bytes is not cut", rule: "r", fix: strings.Repeat("x", 253),
			want: "r: " + strings.Repeat("x", 253)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Warning(tt.rule, tt.fix)
			if got != tt.want || len(got) > MaxWarningLength {
				t.Errorf("Warning() = %q (%d bytes), want %q", got, len(got), tt.want)
			}
		})
	}
}
