package app

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// checkKubeconfig writes a kubeconfig for server with a bearer token and
// returns its path.
func checkKubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := "kubeconfig"
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: not-a-valid-token}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, server)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkAPIServer answers every request with code and a Status carrying
// message, as kube-apiserver refuses a request.
func checkAPIServer(t *testing.T, code int, reason, message string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`, message, reason, code)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// checkClosedPort returns the address of a port nothing listens on.
func checkClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestCheckIsNeverSilent(t *testing.T) {
	noServiceName := checkManifest(t, "redis-statefulset-without-service-name.yaml")
	const forbidden = `services is forbidden: User "ci" cannot list resource "services" in API group "" in the namespace "default"`
	tests := []struct {
		name       string
		files      map[string]string
		stdin      string
		args       []string
		server     func(t *testing.T) string // for --kubeconfig
		wantCode   int
		wantStdout []string // substrings, in order
		wantStderr []string
		// notStderr must not appear on stderr (the text report on stdout shows it).
		notStderr string
	}{
		{
			name:       "empty standard input, as a failed helm template leaves it, is an input error",
			args:       []string{"check", "-f", "-"},
			wantCode:   ExitUsage,
			wantStdout: []string{"<stdin>: error: no Kubernetes objects found in <stdin> (--allow-empty lets an empty input pass)\n", "objects: 0 read", "input errors: 1"},
			notStderr:  "no Kubernetes objects",
		},
		{
			name:       "an empty directory is an input error",
			files:      map[string]string{"charts/.keep": ""},
			args:       []string{"check", "charts"},
			wantCode:   ExitUsage,
			wantStdout: []string{"error: no Kubernetes objects found in charts"},
		},
		{
			name:       "a file of comments and separators only is an input error",
			files:      map[string]string{"empty.yaml": "# nothing\n---\n---\n"},
			args:       []string{"check", "empty.yaml", "-o", "json"},
			wantCode:   ExitUsage,
			wantStdout: []string{`"message": "no Kubernetes objects found in empty.yaml`},
			wantStderr: []string{"empty.yaml: error: no Kubernetes objects found in empty.yaml", "setwarden check: 0 objects read, 0 evaluated; findings: Deny 0, Warn 0, Audit 0, Mutate 0; input errors: 1\n"},
		},
		{
			name:       "--allow-empty lets an empty input pass",
			args:       []string{"check", "--allow-empty", "-"},
			wantCode:   ExitOK,
			wantStdout: []string{"objects: 0 read", "input errors: 0"},
		},
		{
			name:       "with -o sarif=FILE an input error and a summary go to stderr",
			files:      map[string]string{"bad.yaml": "kind: [\n", "sts.yaml": noServiceName},
			args:       []string{"check", "bad.yaml", "sts.yaml", "-o", "sarif=report.sarif"},
			wantCode:   ExitUsage,
			wantStderr: []string{"bad.yaml:1: error: invalid YAML", "setwarden check: 1 objects read, 1 evaluated; findings: Deny 1, Warn 0, Audit 0, Mutate 0; input errors: 1\n"},
		},
		{
			name:  "a cluster that refuses the credentials (401) is an input error, and the files are still checked",
			files: map[string]string{"sts.yaml": noServiceName},
			args:  []string{"check", "--cluster", "sts.yaml"},
			server: func(t *testing.T) string {
				return checkAPIServer(t, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			},
			wantCode:   ExitUsage,
			wantStdout: []string{checkDeniedLine, ": error: --cluster: cannot read the cluster (list Services in namespace default): Unauthorized; checked without the cluster\n", "input errors: 1"},
			notStderr:  "Unauthorized",
		},
		{
			name:       "a cluster that refuses the access (403) is an input error with the API server's message",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "--cluster", "sts.yaml", "-o", "json"},
			server:     func(t *testing.T) string { return checkAPIServer(t, http.StatusForbidden, "Forbidden", forbidden) },
			wantCode:   ExitUsage,
			wantStdout: []string{`"rule": "statefulset-service-name"`, `"message": "--cluster: cannot read the cluster (list Services in namespace default): ` + strings.ReplaceAll(forbidden, `"`, `\"`)},
			wantStderr: []string{"error: --cluster: cannot read the cluster (list Services in namespace default): " + forbidden, "input errors: 1\n"},
		},
		{
			name:       "a cluster that cannot be reached is an input error",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "--cluster", "sts.yaml"},
			server:     checkClosedPort,
			wantCode:   ExitUsage,
			wantStdout: []string{checkDeniedLine, "error: --cluster: cannot read the cluster (list Services in namespace default): ", "connection refused; checked without the cluster\n"},
		},
		{
			name:  "--config-from-cluster against a refusing cluster is an input error, and the built-in config checks the files",
			files: map[string]string{"sts.yaml": noServiceName},
			args:  []string{"check", "--config-from-cluster", "sts.yaml"},
			server: func(t *testing.T) string {
				return checkAPIServer(t, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			},
			wantCode:   ExitUsage,
			wantStdout: []string{checkDeniedLine, "error: --config-from-cluster: reading the installed PolicyConfig", "Unauthorized; checked with the built-in PolicyConfig\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			checkWriteFiles(t, tt.files)
			args := tt.args
			if tt.server != nil {
				args = append(args, "--kubeconfig", checkKubeconfig(t, tt.server(t)))
			}
			var stdout, stderr bytes.Buffer
			code := Run(t.Context(), args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			checkContainsInOrder(t, "stdout", stdout.String(), tt.wantStdout)
			checkContainsInOrder(t, "stderr", stderr.String(), tt.wantStderr)
			if tt.notStderr != "" && strings.Contains(stderr.String(), tt.notStderr) {
				t.Errorf("stderr repeats %q, which the text report on stdout shows:\n%s", tt.notStderr, stderr.String())
			}
		})
	}
}
