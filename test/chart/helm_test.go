// Package chart tests the Helm chart in charts/setwarden by rendering it with
// the helm binary the tools build puts in bin/ and decoding what it renders
// into the Kubernetes, cert-manager and setwarden types that will read it.
package chart

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	// chartDir is the chart under test, relative to this package.
	chartDir = "../../charts/setwarden"
	// chartHelm is the helm binary built by hack/build-tools.sh.
	chartHelm = "../../bin/helm"
	// chartKubeVersion is the Kubernetes version the chart is rendered for:
	// the harness's kube-apiserver, and what Chart.yaml's kubeVersion must accept.
	chartKubeVersion = "v1.37.2"
	// chartNamespace is the release namespace of most renders. It is not one
	// of setwarden's default exempt namespaces, so `setwarden check` really
	// evaluates the chart's own Deployment.
	chartNamespace = "policy-system"
	// chartEverything is a values file that sets every value.
	chartEverything = "testdata/everything.yaml"
)

// chartTLSModes are the values of tls.mode.
var chartTLSModes = []string{"self-managed", "cert-manager", "secret"}

// chartSecretModeArgs make a `secret` mode render valid.
var chartSecretModeArgs = []string{"--set", "tls.mode=secret", "--set", "tls.secretName=operator-tls",
	"--set-file", "tls.caBundle=testdata/ca.crt"}

// chartHelmPath returns the helm binary, or skips the test when it has not
// been built: it comes from `make tools`, not from `go test`.
func chartHelmPath(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(chartHelm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if os.Getenv("CI") != "" {
			t.Fatalf("helm is not built at %s: make test builds it first (hack/build-tools.sh)", path)
		}
		t.Skipf("helm is not built at %s: run hack/build-tools.sh (or make tools) to build it", path)
	}
	return path
}

// chartRunHelm runs helm with args and returns its stdout, its stderr and
// whether it exited 0.
func chartRunHelm(t *testing.T, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), chartHelmPath(t), args...)
	// A private home so no user repositories, plugins or caches leak in.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running helm %v: %v", args, err)
	}
	return out.String(), errOut.String(), err == nil
}

// chartTemplate renders the chart as release name in namespace ns, with
// extra helm arguments, and fails the test if helm does.
func chartTemplate(t *testing.T, name, ns string, args ...string) string {
	t.Helper()
	all := append([]string{"template", name, chartDir, "--namespace", ns, "--kube-version", chartKubeVersion}, args...)
	stdout, stderr, ok := chartRunHelm(t, all...)
	if !ok {
		t.Fatalf("helm %s failed:\n%s", strings.Join(all, " "), stderr)
	}
	return stdout
}

// chartObject is one rendered document, with its kind and name for lookups.
type chartObject struct {
	Kind, Name, Namespace string
	// Source is the template that rendered it, from helm's "# Source:" line.
	Source string
	// YAML is the document as rendered.
	YAML []byte
}

var chartSourceLine = regexp.MustCompile(`(?m)^# Source: (\S+)`)

// chartObjects splits helm's output into its documents.
func chartObjects(t *testing.T, rendered string) []chartObject {
	t.Helper()
	var objs []chartObject
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(rendered, -1) {
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("rendered document is not YAML: %v\n%s", err, doc)
		}
		if meta.Kind == "" {
			continue
		}
		src := ""
		if m := chartSourceLine.FindStringSubmatch(doc); m != nil {
			src = m[1]
		}
		objs = append(objs, chartObject{Kind: meta.Kind, Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace,
			Source: src, YAML: []byte(doc)})
	}
	return objs
}

// chartDecode finds the one object of kind and name and decodes it strictly
// into out: a field the type does not know is a template bug.
func chartDecode(t *testing.T, objs []chartObject, kind, name string, out any) {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			if err := yaml.UnmarshalStrict(o.YAML, out); err != nil {
				t.Fatalf("%s %s does not decode strictly: %v\n%s", kind, name, err, o.YAML)
			}
			return
		}
	}
	t.Fatalf("no %s %s rendered; got %v", kind, name, chartKindNames(objs))
}

// chartKindNames lists "Kind/name" of every object, for assertions and messages.
func chartKindNames(objs []chartObject) []string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Kind + "/" + o.Name
	}
	return names
}

// chartModeArgs returns the helm arguments that select a TLS mode.
func chartModeArgs(mode string) []string {
	if mode == "secret" {
		return chartSecretModeArgs
	}
	return []string{"--set", "tls.mode=" + mode}
}
