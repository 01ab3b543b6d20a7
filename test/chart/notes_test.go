package chart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// chartRenderNotes renders NOTES.txt, which `helm template` leaves out: a
// copy of the chart turns it into a named template and writes it into a
// ConfigMap that `helm template --show-only` prints.
func chartRenderNotes(t *testing.T, name string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "setwarden")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	notes, err := os.ReadFile(filepath.Join(dir, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"_notes.tpl":      `{{- define "test.notes" }}` + string(notes) + `{{- end }}`,
		"notes-test.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  NOTES.txt: |\n{{- include \"test.notes\" . | nindent 4 }}\n",
	}
	for file, content := range files {
		if err := os.WriteFile(filepath.Join(dir, "templates", file), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	all := append([]string{"template", name, dir, "--namespace", chartNamespace, "--kube-version", chartKubeVersion,
		"--show-only", "templates/notes-test.yaml"}, args...)
	stdout, stderr, ok := chartRunHelm(t, all...)
	if !ok {
		t.Fatalf("rendering NOTES.txt failed:\n%s", stderr)
	}
	cm := &corev1.ConfigMap{}
	chartDecode(t, chartObjects(t, stdout), "ConfigMap", "notes", cm)
	return cm.Data["NOTES.txt"]
}

// TestChartNotes checks that NOTES.txt tells the operator how to mark an
// agent DaemonSet and how to check a manifest, with the release's names.
func TestChartNotes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{name: "the defaults",
			want: []string{
				"kubectl -n policy-system rollout status deployment/sw-setwarden",
				"Secret sw-setwarden-tls",
				"kubectl -n <namespace> label daemonset <name> setwarden.dev/agent=true",
				"kubectl apply --dry-run=server -f statefulset.yaml",
				"Namespaces kube-system, policy-system are never checked.",
			}},
		{name: "every value set in cert-manager mode",
			args: []string{"-f", chartEverything, "--set", "tls.mode=cert-manager"},
			want: []string{
				"kubectl -n policy-system get certificate policy-warden-serving",
				"(every DaemonSet in logging already is one)",
				"kubectl -n <namespace> label daemonset <name> example.com/node-agent=true",
				"must also meet config.agents.selector.matchExpressions",
				"Namespaces kube-system, policy-system, monitoring are never checked.",
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			notes := chartRenderNotes(t, "sw", tc.args...)
			for _, want := range tc.want {
				if !strings.Contains(notes, want) {
					t.Errorf("NOTES.txt does not contain %q:\n%s", want, notes)
				}
			}
		})
	}
}
