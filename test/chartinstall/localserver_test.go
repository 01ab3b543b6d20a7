package chartinstall

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/setwarden/setwarden/test/framework"
)

// localArgsInput is what localArgs needs to run the chart's server locally.
type localArgsInput struct {
	// chartArgs are the Deployment container's arguments.
	chartArgs []string
	// port is the webhook port the test set as webhook.port.
	port int
	// probePort is a free port for /healthz and /readyz.
	probePort int
	// dir stands in for the pod's volumes.
	dir string
	// kubeconfig reaches the API server as the chart's ServiceAccount.
	kubeconfig string
	// configMap is the chart's ConfigMap and where the pod mounts it.
	configMap configMount
}

// localFlags are the chart's flags whose values only make sense in a pod.
var localFlags = []string{"--cert-dir", "--config", "--health-probe-bind-address", "--metrics-bind-address", "--port"}

// localArgs turns the chart's container arguments into those of a local
// process: the pod's paths become files in dir, the probe and metrics
// servers move to loopback ports, and the process listens on loopback and
// reaches the API server with kubeconfig. Every other flag is the chart's
// as is, and the test fails if a flag it adapts is missing, so a renamed
// flag cannot slip through.
func localArgs(t *testing.T, in localArgsInput) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for _, arg := range in.chartArgs {
		name, value, ok := strings.Cut(arg, "=")
		if !ok || !slices.Contains(localFlags, name) {
			out = append(out, arg)
			continue
		}
		seen[name] = true
		switch name {
		case "--cert-dir":
			// The pod's in-memory emptyDir, where the server writes the
			// certificate it reads from its Secret.
			value = filepath.Join(in.dir, "certs")
			if err := os.MkdirAll(value, 0o700); err != nil {
				t.Fatal(err)
			}
		case "--config":
			value = configFile(t, in, value)
		case "--health-probe-bind-address":
			value = "127.0.0.1:" + strconv.Itoa(in.probePort)
		case "--metrics-bind-address":
			if value != "0" {
				port, err := framework.FreePort()
				if err != nil {
					t.Fatal(err)
				}
				value = "127.0.0.1:" + strconv.Itoa(port)
			}
		case "--port":
			if value != strconv.Itoa(in.port) {
				t.Fatalf("the chart runs the server with --port=%s, want webhook.port %d", value, in.port)
			}
		}
		out = append(out, name+"="+value)
	}
	for _, name := range localFlags {
		if !seen[name] {
			t.Fatalf("the chart's arguments have no %s=: %v", name, in.chartArgs)
		}
	}
	return append(out, "--host=127.0.0.1", "--kubeconfig="+in.kubeconfig)
}

// configFile writes the ConfigMap key that the chart's --config path
// names, inside the ConfigMap's mount, to dir, and returns its path.
func configFile(t *testing.T, in localArgsInput, chartPath string) string {
	t.Helper()
	if filepath.Dir(chartPath) != filepath.Clean(in.configMap.mountPath) {
		t.Fatalf("--config=%s is not in the ConfigMap's mount %s", chartPath, in.configMap.mountPath)
	}
	content, ok := in.configMap.data[filepath.Base(chartPath)]
	if !ok {
		t.Fatalf("--config=%s names no key of the ConfigMap", chartPath)
	}
	path := filepath.Join(in.dir, filepath.Base(chartPath))
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertCanI asks the API server what the server's kubeconfig may do: what
// self-managed TLS needs on its own objects, and nothing else.
func assertCanI(t *testing.T, serverKubeconfig string) {
	t.Helper()
	tests := []struct {
		args []string
		want string
	}{
		{args: []string{"list", "services", "--all-namespaces"}, want: "yes"},
		{args: []string{"watch", "nodes"}, want: "yes"},
		{args: []string{"update", "secrets/" + release + "-tls", "-n", releaseNamespace}, want: "yes"},
		{args: []string{"patch", "leases.coordination.k8s.io/" + release + "-tls", "-n", releaseNamespace}, want: "yes"},
		{args: []string{"update", "validatingwebhookconfigurations/" + release}, want: "yes"},
		{args: []string{"patch", "mutatingwebhookconfigurations/" + release}, want: "yes"},
		{args: []string{"create", "secrets", "-n", releaseNamespace}, want: "no"},
		{args: []string{"get", "secrets/other", "-n", releaseNamespace}, want: "no"},
		{args: []string{"delete", "secrets/" + release + "-tls", "-n", releaseNamespace}, want: "no"},
		{args: []string{"create", "leases.coordination.k8s.io", "-n", releaseNamespace}, want: "no"},
		{args: []string{"update", "validatingwebhookconfigurations/other"}, want: "no"},
		{args: []string{"create", "mutatingwebhookconfigurations"}, want: "no"},
		{args: []string{"delete", "validatingwebhookconfigurations/" + release}, want: "no"},
		{args: []string{"get", "configmaps", "-n", releaseNamespace}, want: "no"},
		{args: []string{"list", "pods", "--all-namespaces"}, want: "no"},
		{args: []string{"create", "events", "-n", releaseNamespace}, want: "no"},
	}
	for _, tt := range tests {
		stdout, stderr, _ := runKubectl(t, serverKubeconfig, "", append([]string{"auth", "can-i"}, tt.args...)...)
		if got := strings.TrimSpace(stdout); got != tt.want {
			t.Errorf("can-i %s: %q, want %q %s", strings.Join(tt.args, " "), got, tt.want, stderr)
		}
	}
}
