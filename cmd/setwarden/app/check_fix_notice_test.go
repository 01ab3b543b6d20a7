package app

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestCheckFixSaysWhatItCannotFix(t *testing.T) {
	agent := checkManifest(t, "agent-without-control-plane-tolerations.yaml")
	agentJSON, err := yaml.YAMLToJSON([]byte(agent))
	if err != nil {
		t.Fatal(err)
	}
	notAgent := strings.Replace(agent, `setwarden.dev/agent: "true"`, `app: logs`, 1)
	notAgentJSON, _ := yaml.YAMLToJSON([]byte(notAgent))
	indent := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ") }
	list := "apiVersion: v1\nkind: List\nitems:\n  - " + indent(strings.TrimPrefix(agent, "# the log agent\n")) + "\n"
	const jsonNotice = "ds.json:1: notice: DaemonSet.apps logging/logs: --fix cannot edit JSON: add the tolerations by hand or convert the file to YAML\n"
	const listNotice = "list.yaml:1: notice: DaemonSet.apps logging/logs: --fix cannot edit the items of a kind: List: add the tolerations by hand or write the items as YAML documents of their own\n"
	tests := []struct {
		name        string
		file        string
		content     string
		args        []string
		stdin       string
		wantNotices string // every notice line of stdout
	}{
		{"an agent DaemonSet in a JSON file is named with how to fix it by hand",
			"ds.json", string(agentJSON), []string{"check", "--fix", "ds.json"}, "", jsonNotice},
		{"an agent DaemonSet among the items of a YAML List is named with how to fix it by hand",
			"list.yaml", list, []string{"check", "--fix", "list.yaml"}, "", listNotice},
		{"a List on standard input gets the same notice",
			"", "", []string{"check", "--fix", "--diff", "-"}, list, strings.Replace(listNotice, "list.yaml", "<stdin>", 1)},
		{"a JSON file without an agent to fix has nothing to say",
			"ds.json", string(notAgentJSON), []string{"check", "--fix", "ds.json"}, "", ""},
		{"without --fix a JSON agent DaemonSet is only reported as Mutate",
			"ds.json", string(agentJSON), []string{"check", "ds.json"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			if tt.file != "" {
				checkWriteFiles(t, map[string]string{tt.file: tt.content})
			}
			var stdout, stderr bytes.Buffer
			code := Run(t.Context(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			report := stdout.String()
			if tt.stdin != "" {
				report = stderr.String() // the diff goes to stdout
			}
			var notices strings.Builder
			for _, line := range strings.SplitAfter(report, "\n") {
				if strings.Contains(line, ": notice: ") {
					notices.WriteString(line)
				}
			}
			if code != ExitOK || notices.String() != tt.wantNotices || !strings.Contains(report, "Mutate agent-tolerations") != (tt.content == string(notAgentJSON)) {
				t.Errorf("%v = %d, notices:\n%s\nwant 0 and notices:\n%s\nreport:\n%s", tt.args, code, notices.String(), tt.wantNotices, report)
			}
			if tt.file != "" {
				if got, _ := os.ReadFile(tt.file); string(got) != tt.content {
					t.Errorf("--fix rewrote %s:\n%s", tt.file, got)
				}
			}
		})
	}
}
