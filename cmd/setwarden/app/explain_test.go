package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/setwarden/setwarden/internal/ruledoc"
	"github.com/setwarden/setwarden/policies"
)

func TestExplain(t *testing.T) {
	ruleIDs := "Rule IDs: " + strings.Join(policies.RuleIDs(), ", ") + "\n"
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:     "a rule's facts come before its documentation, wrapped at 100 columns",
			args:     []string{"explain", "statefulset-name-too-long"},
			wantCode: ExitOK,
			wantStdout: "Rule:           statefulset-name-too-long\n" +
				"Default action: Deny\n" +
				"Kinds:          StatefulSet\n" +
				"Documentation:  https://github.com/setwarden/setwarden/blob/main/README.md#statefulset-name-too-long\n" +
				"\n" +
				"A StatefulSet's name is longer than 52 characters, so no pod can ever be created. On UPDATE, a\n" +
				"violation the old object already had is only warned about (grandfathered).\n",
		},
		{
			name:     "a rule without kinds judges all workload kinds",
			args:     []string{"explain", "toleration-value-fragile"},
			wantCode: ExitOK,
			wantStdout: "Rule:           toleration-value-fragile\n" +
				"Default action: Warn\n" +
				"Kinds:          all workload kinds\n" +
				"Documentation:  https://github.com/setwarden/setwarden/blob/main/README.md#toleration-value-fragile\n" +
				"\n" +
				"A toleration for a control-plane role key matches one fixed value instead of using operator Exists.\n",
		},
		{
			name:       "a misspelt rule is refused with the closest rule ID and every rule ID",
			args:       []string{"explain", "agent-toleration"},
			wantCode:   ExitUsage,
			wantStderr: "Error: unknown rule \"agent-toleration\"; did you mean \"agent-tolerations\"?\n" + ruleIDs,
		},
		{
			name:       "a rule close to none is refused with every rule ID",
			args:       []string{"explain", "memory-limits"},
			wantCode:   ExitUsage,
			wantStderr: "Error: unknown rule \"memory-limits\"\n" + ruleIDs,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(t.Context(), tt.args, nil, &stdout, &stderr)
			if code != tt.wantCode || stdout.String() != tt.wantStdout || stderr.String() != tt.wantStderr {
				t.Errorf("%v = %d\nstdout:\n%s\nstderr:\n%s\nwant %d\nstdout:\n%s\nstderr:\n%s",
					tt.args, code, stdout.String(), stderr.String(), tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestExplainEveryRule(t *testing.T) {
	for _, r := range policies.Rules {
		var stdout, stderr bytes.Buffer
		if code := Run(t.Context(), []string{"explain", r.ID}, nil, &stdout, &stderr); code != ExitOK || !strings.Contains(stdout.String(), "\n\n") {
			t.Errorf("explain %s = %d, %q, %q; want 0 and the rule's documentation", r.ID, code, stdout.String(), stderr.String())
		}
		for _, line := range strings.Split(stdout.String(), "\n") {
			if len(line) > ruledoc.ExplainWidth && strings.Contains(line, " ") && !strings.HasPrefix(line, "Documentation:") {
				t.Errorf("explain %s: line longer than %d columns: %q", r.ID, ruledoc.ExplainWidth, line)
			}
		}
	}
}
