package app

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestCheckFix(t *testing.T) {
	headlessService := checkManifest(t, "redis-headless-service.yaml")
	agent := checkManifest(t, "agent-without-control-plane-tolerations.yaml")
	t.Run("--fix rewrites the file in place and the check then finds nothing to fix", func(t *testing.T) {
		t.Chdir(t.TempDir())
		checkWriteFiles(t, map[string]string{"agents/ds.yaml": agent, "agents/svc.yaml": headlessService})
		var out, errOut bytes.Buffer
		code := Run(t.Context(), []string{"check", "--fix", "agents"}, nil, &out, &errOut)
		if code != ExitOK || !strings.Contains(out.String(), "findings: Deny 0, Warn 0, Audit 0, Mutate 0") {
			t.Errorf("exit code %d, stdout:\n%s\nwant 0 and no Mutate finding left", code, out.String())
		}
		if !strings.Contains(errOut.String(), "agents/ds.yaml:2: fixed DaemonSet.apps logging/logs: added tolerations") {
			t.Errorf("stderr = %q, want the change logged", errOut.String())
		}
		got, _ := os.ReadFile("agents/ds.yaml")
		if !strings.HasPrefix(string(got), agent[:strings.Index(agent, "          image")]) ||
			!strings.Contains(string(got), "# pinned below") || !strings.Contains(string(got), "- key: node-role.kubernetes.io/control-plane") {
			t.Errorf("fixed file lost comments or order, or lacks the toleration:\n%s", got)
		}
		svc, _ := os.ReadFile("agents/svc.yaml")
		if string(svc) != headlessService {
			t.Errorf("a file with nothing to fix was rewritten:\n%s", svc)
		}
		again := Run(t.Context(), []string{"check", "--fix", "agents"}, nil, &out, &errOut)
		if got2, _ := os.ReadFile("agents/ds.yaml"); again != ExitOK || string(got2) != string(got) {
			t.Errorf("a second --fix changed the file again (exit %d)", again)
		}
	})
	t.Run("--fix --diff prints a unified diff and leaves the file alone", func(t *testing.T) {
		t.Chdir(t.TempDir())
		checkWriteFiles(t, map[string]string{"ds.yaml": agent})
		var out, errOut bytes.Buffer
		Run(t.Context(), []string{"check", "--fix", "--diff", "ds.yaml"}, nil, &out, &errOut)
		checkContainsInOrder(t, "stdout", out.String(), []string{"--- ds.yaml\n+++ ds.yaml (fixed)\n@@ ",
			"+      tolerations:\n+        - key: node-role.kubernetes.io/control-plane\n"})
		if !strings.Contains(errOut.String(), "Mutate agent-tolerations") {
			t.Errorf("stderr = %q, want the report, which shows the gap still there", errOut.String())
		}
		if got, _ := os.ReadFile("ds.yaml"); string(got) != agent {
			t.Errorf("--diff wrote the file:\n%s", got)
		}
	})
	t.Run("--fix on standard input writes the fixed stream to stdout and the report to stderr", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := Run(t.Context(), []string{"check", "--fix", "-"}, strings.NewReader(headlessService+"---\n"+agent), &out, &errOut)
		if code != ExitOK || !strings.HasPrefix(out.String(), headlessService+"---\n# the log agent\n") ||
			!strings.Contains(out.String(), "operator: Exists") {
			t.Errorf("exit %d, stdout:\n%s", code, out.String())
		}
		checkContainsInOrder(t, "stderr", errOut.String(), []string{"<stdin>:11: fixed DaemonSet.apps logging/logs", "Mutate 0"})
	})
	t.Run("--diff without --fix is a usage error", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := Run(t.Context(), []string{"check", "--diff", "x.yaml"}, nil, &out, &errOut); code != ExitUsage {
			t.Errorf("exit code = %d, want %d", code, ExitUsage)
		}
	})
}

func TestCheckBadInput(t *testing.T) {
	headlessService := checkManifest(t, "redis-headless-service.yaml")
	goodStatefulSet := checkManifest(t, "redis-statefulset.yaml")
	noServiceName := checkManifest(t, "redis-statefulset-without-service-name.yaml")
	agent := checkManifest(t, "agent-without-control-plane-tolerations.yaml")
	big := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  blob: " + strings.Repeat("x", 10<<20) + "\n"
	tests := []checkCase{
		{
			name: "one broken document among many is reported with its file and line and the others are still checked",
			files: map[string]string{"many.yaml": headlessService + "---\n" + goodStatefulSet + "---\n" +
				"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   labels: {}\n---\n" + noServiceName},
			args:     []string{"check", "many.yaml"},
			wantCode: ExitUsage,
			wantStdout: []string{"many.yaml:", ": Deny statefulset-service-name StatefulSet.apps default/redis",
				"many.yaml:38: error: invalid YAML: yaml: line 38: mapping values are not allowed in this context", "objects: 3 read, 2 evaluated"},
		},
		{
			name:       "a 10 MiB document is read",
			files:      map[string]string{"big.yaml": big + "---\n" + noServiceName},
			args:       []string{"check", "big.yaml"},
			wantCode:   ExitDenied,
			wantStdout: []string{"objects: 2 read, 1 evaluated; not evaluated: ConfigMap 1"},
		},
		{
			name:       "a binary file in a directory is skipped with a notice",
			files:      map[string]string{"dir/logo.yaml": "\x89PNG\r\n\x1a\n\x00", "dir/sts.yaml": noServiceName},
			args:       []string{"check", "dir"},
			wantCode:   ExitDenied,
			wantStdout: []string{"dir/logo.yaml: notice: skipped: not UTF-8 text"},
		},
		{
			name:       "a DaemonSet under extensions/v1beta1 is reported as unsupported",
			files:      map[string]string{"ds.yaml": strings.Replace(agent, "apps/v1", "extensions/v1beta1", 1)},
			args:       []string{"check", "ds.yaml"},
			wantCode:   ExitUsage,
			wantStdout: []string{`ds.yaml:2: error: DaemonSet logs: unsupported apiVersion "extensions/v1beta1"`},
		},
		{
			name:       "a symbolic link loop does not hang",
			files:      map[string]string{"dir/sts.yaml": noServiceName},
			symlinks:   map[string]string{"dir/loop": ".."},
			args:       []string{"check", "dir"},
			wantCode:   ExitDenied,
			wantStdout: []string{"dir/loop/dir: notice: skipped: directory already read (a symbolic link loop or a second link to it)"},
		},
	}
	runCheckCases(t, tests)
}
