package app

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/setwarden/setwarden/policies"
)

// columns splits an aligned text line at its runs of two or more spaces.
var columns = regexp.MustCompile(`  +`)

func TestRulesText(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(t.Context(), []string{"rules"}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("rules = %d, stderr %q; want 0", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != len(policies.Rules)+1 {
		t.Fatalf("rules printed %d lines, want a header and %d rules:\n%s", len(lines), len(policies.Rules), stdout.String())
	}
	byID := map[string][]string{}
	for _, line := range lines {
		fields := columns.Split(strings.TrimRight(line, " "), -1)
		byID[fields[0]] = fields
	}
	url := "https://github.com/setwarden/setwarden/blob/main/README.md#"
	tests := []struct {
		name string
		id   string
		want []string
	}{
		{"the header names the columns", "RULE", []string{"RULE", "DEFAULT", "KINDS", "DESCRIPTION", "DOCUMENTATION"}},
		{"a DaemonSet rule lists its kind", "agent-tolerations", []string{"agent-tolerations", "Deny", "DaemonSet",
			"An agent DaemonSet does not tolerate every configured control-plane taint.", url + "agent-tolerations"}},
		{"a rule of several kinds lists them in the kinds' order", "selector-template-mismatch", []string{"selector-template-mismatch", "Deny",
			"ReplicationController, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob",
			"A controller's selector does not select its pod template's labels, so kube-apiserver rejects it.", url + "selector-template-mismatch"}},
		{"a rule without kinds judges all workload kinds", "toleration-value-fragile", []string{"toleration-value-fragile", "Warn", "all workload kinds",
			"A toleration for a control-plane role key matches one fixed value instead of using operator Exists.", url + "toleration-value-fragile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := byID[tt.id]; !slices.Equal(got, tt.want) {
				t.Errorf("columns of %s = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
	t.Run("the columns are aligned", func(t *testing.T) {
		for _, line := range lines[1:] {
			if strings.Index(line, " Deny ") != strings.Index(lines[0], " DEFAULT ") && strings.Index(line, " Warn ") != strings.Index(lines[0], " DEFAULT ") {
				t.Errorf("the action of %q is not under DEFAULT in %q", line, lines[0])
			}
		}
	})
}

func TestRulesJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(t.Context(), []string{"rules", "-o", "json"}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("rules -o json = %d, stderr %q; want 0", code, stderr.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("rules -o json is not a JSON array of objects: %v\n%s", err, stdout.String())
	}
	if len(got) != len(policies.Rules) {
		t.Fatalf("rules -o json has %d entries, want %d", len(got), len(policies.Rules))
	}
	tests := []struct {
		name  string
		index int
		want  string
	}{
		{"a DaemonSet rule has its kind, in the stable keys", 0, `{"defaultAction":"Deny","description":"An agent DaemonSet does not tolerate every configured control-plane taint.",` +
			`"id":"agent-tolerations","kinds":["DaemonSet"],"url":"https://github.com/setwarden/setwarden/blob/main/README.md#agent-tolerations"}`},
		{"a rule without kinds spells out every workload kind", 1, `{"defaultAction":"Warn","description":"A toleration for a control-plane role key matches one fixed value instead of using operator Exists.",` +
			`"id":"toleration-value-fragile","kinds":["Pod","ReplicationController","Deployment","ReplicaSet","StatefulSet","DaemonSet","Job","CronJob"],` +
			`"url":"https://github.com/setwarden/setwarden/blob/main/README.md#toleration-value-fragile"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry, _ := json.Marshal(got[tt.index]) // sorted keys
			if string(entry) != tt.want {
				t.Errorf("entry %d = %s\nwant %s", tt.index, entry, tt.want)
			}
		})
	}
}

func TestRulesRefusesAnUnknownFormat(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"rules", "-o", "yaml"}, nil, &stdout, &stderr)
	if want := "Error: -o \"yaml\" is not supported; use text or json\n"; code != ExitUsage || stderr.String() != want {
		t.Errorf("rules -o yaml = %d, stderr %q; want 2 and %q", code, stderr.String(), want)
	}
}
