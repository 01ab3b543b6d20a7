package app

import (
	"bytes"
	"strings"
	"testing"
)

func TestSmallCommands(t *testing.T) {
	agent := checkManifest(t, "agent-without-control-plane-tolerations.yaml")
	tests := []checkCase{
		{
			name:       "setwarden version prints the module version and revision",
			args:       []string{"version"},
			wantStdout: []string{"setwarden ", " (revision ", ", go1."},
		},
		{
			name:       "--version prints the same line",
			args:       []string{"--version"},
			wantStdout: []string{"setwarden ", " (revision "},
		},
		{
			name:       "completion offers the formats of -o",
			args:       []string{"__complete", "check", "-o", ""},
			wantStdout: []string{"text\njson\nyaml\nsarif\njunit\n:4\n"},
		},
		{
			name:       "completion offers the values of --fail-on",
			args:       []string{"__complete", "check", "--fail-on", ""},
			wantStdout: []string{"deny\nwarn\nnever\n:4\n"},
		},
		{
			name:       "--fail-on warn fails on an agent DaemonSet the webhook would change (Mutate)",
			files:      map[string]string{"agent.yaml": agent},
			args:       []string{"check", "--fail-on", "warn", "agent.yaml"},
			wantCode:   ExitDenied,
			wantStdout: []string{"Mutate agent-tolerations", "Mutate 2"},
		},
		{
			name:       "--fail-on deny lets the same DaemonSet pass",
			files:      map[string]string{"agent.yaml": agent},
			args:       []string{"check", "agent.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"Mutate agent-tolerations", "Mutate 2"},
		},
	}
	runCheckCases(t, tests)
}

func TestVersionLine(t *testing.T) {
	var version, flag bytes.Buffer
	if code := Run(t.Context(), []string{"version"}, nil, &version, &version); code != ExitOK || strings.Count(version.String(), "\n") != 1 {
		t.Errorf("version = %d, %q; want 0 and one line", code, version.String())
	}
	if code := Run(t.Context(), []string{"--version"}, nil, &flag, &flag); code != ExitOK || flag.String() != version.String() {
		t.Errorf("--version = %d, %q; want 0 and the line of setwarden version, %q", code, flag.String(), version.String())
	}
}
