package report

import (
	"testing"

	"github.com/setwarden/setwarden/policies"
)

func TestColorAllowed(t *testing.T) {
	tests := []struct {
		name, noColor, term string
		want                bool
	}{
		{name: "an ordinary terminal is coloured", term: "xterm-256color", want: true},
		{name: "NO_COLOR turns colour off", noColor: "1", term: "xterm-256color"},
		{name: "a dumb terminal gets no escape sequences", term: "dumb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", tt.noColor)
			t.Setenv("TERM", tt.term)
			if got := colorAllowed(); got != tt.want {
				t.Errorf("colorAllowed() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFailOnWarnFailsOnMutate(t *testing.T) {
	tests := []struct {
		failOn FailOn
		action string
		want   bool
	}{
		{FailOnDeny, "Mutate", false},
		{FailOnWarn, "Mutate", true},
		{FailOnWarn, "Warn", true},
		{FailOnWarn, "Audit", false},
		{FailOnNever, "Mutate", false},
	}
	for _, tt := range tests {
		r := NewBuilder(nil)
		r.report.Summary.ByAction[policies.Action(tt.action)] = 1
		rep, _ := r.Finish()
		if got := rep.Failed(tt.failOn); got != tt.want {
			t.Errorf("--fail-on %s with one %s finding: Failed() = %v, want %v", tt.failOn, tt.action, got, tt.want)
		}
	}
}
