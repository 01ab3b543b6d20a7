package chartinstall

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/internal/server/certs"
)

// commonKinds are the objects every TLS mode renders with default values.
var commonKinds = map[string]int{
	"ServiceAccount": 1, "ConfigMap": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Service": 1,
	"Deployment": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 1,
	"MutatingWebhookConfiguration": 1, "ValidatingWebhookConfiguration": 1,
}

// withKinds returns commonKinds plus extra.
func withKinds(extra map[string]int) map[string]int {
	out := maps.Clone(commonKinds)
	for k, n := range extra {
		out[k] += n
	}
	return out
}

// TestHelmInstallInEachTLSMode installs the chart in each TLS mode into a
// namespace that warns about the restricted PodSecurity standard, checks
// that the API server stored every rendered object and warned about none,
// then uninstalls it and checks that no webhook configuration is left.
func TestHelmInstallInEachTLSMode(t *testing.T) {
	caPEM := testCA(t)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode      string
		args      []string
		wantKinds map[string]int
		check     func(t *testing.T, release, ns string)
	}{
		{
			mode: "self-managed",
			// The Secret and the Lease, created empty, and the RBAC to fill
			// and hold them.
			wantKinds: withKinds(map[string]int{"Secret": 1, "Lease": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Role": 1, "RoleBinding": 1}),
			check: func(t *testing.T, release, _ string) {
				// No server runs, so nothing is injected yet.
				assertCABundles(t, release, nil)
			},
		},
		{
			mode:      "cert-manager",
			wantKinds: withKinds(map[string]int{"Issuer": 2, "Certificate": 2}),
			check:     checkCertManagerRelease,
		},
		{
			mode:      "secret",
			args:      []string{"--set", "tls.secretName=operator-tls", "--set-file", "tls.caBundle=" + caFile},
			wantKinds: commonKinds,
			check: func(t *testing.T, release, _ string) {
				assertCABundles(t, release, caPEM)
			},
		},
	}
	for _, tt := range tests {
		t.Run("tls.mode="+tt.mode, func(t *testing.T) {
			start := time.Now()
			release, ns := "setwarden-"+tt.mode, tt.mode+"-system"
			restrictedNamespace(t, ns)
			res := helmInstall(t, release, ns, append([]string{"--set", "tls.mode=" + tt.mode}, tt.args...)...)
			checkWarnings(t, "helm install", res.Stderr)
			manifest := releaseManifest(t, release, ns)
			objs := decodeManifest(t, manifest)
			t.Run("the API server stored every rendered object", func(t *testing.T) {
				if diff := diffCounts(tt.wantKinds, kindCounts(objs)); diff != "" {
					t.Errorf("the release's objects by kind differ (want, got):\n%s", diff)
				}
				assertStored(t, objs, ns)
			})
			checkWarnings(t, "a strict server-side dry run of the installed manifest", strictDryRun(t, manifest, ns))
			t.Run("mode-specific wiring", func(t *testing.T) { tt.check(t, release, ns) })
			helm(t, "uninstall", release, "--namespace", ns)
			t.Run("helm uninstall leaves no webhook configuration", assertNoWebhookConfigurations)
			t.Run("after uninstall a StatefulSet setwarden would deny is created", assertBrokenStatefulSetCreated)
			t.Logf("install, checks and uninstall took %s", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestPodSecurityWarningsAreReported proves that the absence of warnings
// above means something: in the same kind of namespace, a Deployment that
// breaks the restricted standard makes both helm and kubectl print the
// API server's PodSecurity warning.
func TestPodSecurityWarningsAreReported(t *testing.T) {
	const ns = "podsecurity-control"
	restrictedNamespace(t, ns)
	// The Deployment runs as root by default and drops no capability.
	data, err := os.ReadFile(filepath.Join("testdata", "deployment-breaking-restricted-pod-security.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	insecureDeployment := string(data)
	chart := t.TempDir()
	writeFile(t, filepath.Join(chart, "Chart.yaml"), "apiVersion: v2\nname: insecure\nversion: 0.1.0\n")
	writeFile(t, filepath.Join(chart, "templates", "deployment.yaml"), insecureDeployment)
	res := helm(t, "install", "insecure", chart, "--namespace", ns)
	// helm prints the warning through klog, which quotes it.
	const want = `would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false`
	if !strings.Contains(res.Stderr, want) {
		t.Errorf("helm install of a non-compliant Deployment printed no %s:\nstdout: %s\nstderr: %s", want, res.Stdout, res.Stderr)
	}
	if got := strictDryRun(t, insecureDeployment, ns); !strings.Contains(got, `Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false`) {
		t.Errorf("kubectl's strict dry run of a non-compliant Deployment printed no PodSecurity warning:\n%s", got)
	}
	helm(t, "uninstall", "insecure", "--namespace", ns)
}

// strictDryRunArgs server-side applies a manifest as a dry run with strict
// field validation: unknown or duplicate fields are errors, and custom
// resources are checked against their CRD's schema.
func strictDryRunArgs(ns string) []string {
	return []string{"apply", "--namespace", ns, "--server-side", "--force-conflicts", "--field-manager", "chartinstall-e2e",
		"--dry-run=server", "--validate=strict", "-f", "-"}
}

// strictDryRun fails the test unless manifest passes strict server-side
// validation, and returns what kubectl printed to standard error.
func strictDryRun(t *testing.T, manifest, ns string) string {
	t.Helper()
	stdout, stderr, err := kubectl(t, manifest, strictDryRunArgs(ns)...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(strictDryRunArgs(ns), " "), err, stdout, stderr)
	}
	return stderr
}

// checkCertManagerRelease checks that the API server kept the cert-manager
// objects as the chart wrote them, and that both webhook configurations
// ask cainjector for the serving Certificate's CA.
func checkCertManagerRelease(t *testing.T, release, ns string) {
	serving := &unstructured.Unstructured{}
	serving.SetAPIVersion("cert-manager.io/v1")
	serving.SetKind("Certificate")
	if err := k8s.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: release + "-serving"}, serving); err != nil {
		t.Fatal(err)
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(serving.Object, "spec", "dnsNames")
	svc := release + "." + ns + ".svc"
	if want := []string{svc, svc + ".cluster.local"}; !slices.Equal(dnsNames, want) {
		t.Errorf("serving Certificate dnsNames %v, want %v", dnsNames, want)
	}
	issuer, _, _ := unstructured.NestedString(serving.Object, "spec", "issuerRef", "name")
	if want := release + "-ca"; issuer != want {
		t.Errorf("serving Certificate issuerRef.name %q, want %q", issuer, want)
	}
	secret, _, _ := unstructured.NestedString(serving.Object, "spec", "secretName")
	if want := release + "-tls"; secret != want {
		t.Errorf("serving Certificate secretName %q, want %q", secret, want)
	}
	m, v := webhookConfigurations(t, release)
	want := ns + "/" + release + "-serving"
	for kind, annotations := range map[string]map[string]string{"mutating": m.Annotations, "validating": v.Annotations} {
		if got := annotations["cert-manager.io/inject-ca-from"]; got != want {
			t.Errorf("%s configuration: cert-manager.io/inject-ca-from %q, want %q", kind, got, want)
		}
	}
}

// testCA returns a PEM CA certificate for secret mode.
func testCA(t *testing.T) []byte {
	t.Helper()
	ca, err := certs.NewCA("chartinstall-operator-ca", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return certs.EncodeCerts(ca.Cert)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// diffCounts lists the kinds whose counts differ, one per line.
func diffCounts(want, got map[string]int) string {
	var lines []string
	kinds := maps.Clone(want)
	maps.Copy(kinds, got)
	for _, kind := range slices.Sorted(maps.Keys(kinds)) {
		if want[kind] != got[kind] {
			lines = append(lines, kind+": "+strconv.Itoa(want[kind])+", "+strconv.Itoa(got[kind]))
		}
	}
	return strings.Join(lines, "\n")
}
