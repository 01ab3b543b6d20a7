package chartinstall

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

const (
	// workloadNamespace is an ordinary namespace for the objects the tests
	// submit: no webhook excludes it.
	workloadNamespace = "workloads"
	// podSecurityWarnLabel makes the API server warn about every object
	// in the namespace that the restricted PodSecurity standard forbids,
	// pod templates of workloads included.
	podSecurityWarnLabel = "pod-security.kubernetes.io/warn"
)

// restrictedNamespace creates the release namespace ns, labelled to warn
// about anything the restricted PodSecurity standard forbids.
func restrictedNamespace(t *testing.T, ns string) {
	t.Helper()
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{podSecurityWarnLabel: "restricted"}}}
	if err := k8s.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
}

// ensureWorkloadNamespace creates workloadNamespace unless it exists.
func ensureWorkloadNamespace(t *testing.T) {
	t.Helper()
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: workloadNamespace}}
	if err := k8s.Create(t.Context(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// helm runs helm through the version proxy and fails the test if it fails.
func helm(t *testing.T, args ...string) framework.HelmResult {
	t.Helper()
	res, err := framework.RunHelm(t.Context(), helmProxy.Kubeconfig, t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// helmInstall installs the chart as release into ns, and uninstalls it when
// the test ends if the test has not.
func helmInstall(t *testing.T, release, ns string, args ...string) framework.HelmResult {
	t.Helper()
	res := helm(t, append([]string{"install", release, framework.ChartDir(), "--namespace", ns}, args...)...)
	t.Cleanup(func() {
		home, _ := os.MkdirTemp(scratch, "helm-")
		_, _ = framework.RunHelm(context.Background(), helmProxy.Kubeconfig, home, "uninstall", release, "--namespace", ns, "--ignore-not-found")
	})
	return res
}

// kubectl runs kubectl as the administrator with stdin and returns its
// output; a non-zero exit is an error.
func kubectl(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runKubectl(t, kubeconfig, stdin, args...)
}

// runKubectl runs kubectl with kc.
func runKubectl(t *testing.T, kc, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), framework.Kubectl(), append([]string{"--kubeconfig", kc}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), err
}

// warningLines returns the lines of a command's output that carry a
// warning: client-go prints the API server's as "Warning: ..." (kubectl)
// or through klog (helm).
func warningLines(output string) []string {
	var out []string
	for line := range strings.SplitSeq(output, "\n") {
		if strings.Contains(strings.ToLower(line), "warning") {
			out = append(out, line)
		}
	}
	return out
}

// checkWarnings runs two subtests on what printed output: the restricted
// PodSecurity standard raised no warning, and the API server raised no
// other. They are apart so that a failure names its cause.
func checkWarnings(t *testing.T, what, output string) {
	t.Helper()
	var podSecurity, other []string
	for _, line := range warningLines(output) {
		if strings.Contains(line, "PodSecurity") {
			podSecurity = append(podSecurity, line)
		} else {
			other = append(other, line)
		}
	}
	t.Run(what+" prints no PodSecurity warning", func(t *testing.T) {
		if len(podSecurity) > 0 {
			t.Errorf("%s printed PodSecurity warnings:\n%s", what, strings.Join(podSecurity, "\n"))
		}
	})
	t.Run(what+" prints no other warning", func(t *testing.T) {
		if len(other) > 0 {
			t.Errorf("%s printed warnings:\n%s", what, strings.Join(other, "\n"))
		}
	})
}

// releaseManifest returns the manifest helm installed for release.
func releaseManifest(t *testing.T, release, ns string) string {
	t.Helper()
	return helm(t, "get", "manifest", release, "--namespace", ns).Stdout
}

// decodeManifest splits a multi-document manifest into objects.
func decodeManifest(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("decoding the release manifest: %v", err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// kindCounts counts objects by kind.
func kindCounts(objs []*unstructured.Unstructured) map[string]int {
	counts := map[string]int{}
	for _, obj := range objs {
		counts[obj.GetKind()]++
	}
	return counts
}

// assertStored fails the test unless every object of the manifest is on
// the API server, in the release namespace when it is namespaced.
func assertStored(t *testing.T, objs []*unstructured.Unstructured, ns string) {
	t.Helper()
	for _, want := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(want.GroupVersionKind())
		key := client.ObjectKey{Namespace: want.GetNamespace(), Name: want.GetName()}
		if err := k8s.Get(t.Context(), key, got); err != nil {
			t.Errorf("%s %s of the release is not on the API server: %v", want.GetKind(), want.GetName(), err)
			continue
		}
		if want.GetNamespace() != "" && want.GetNamespace() != ns {
			t.Errorf("%s %s is in namespace %q, not the release's %q", want.GetKind(), want.GetName(), want.GetNamespace(), ns)
		}
	}
}

// assertNoWebhookConfigurations fails the test if any webhook
// configuration is left in the cluster: this suite installs no other.
func assertNoWebhookConfigurations(t *testing.T) {
	t.Helper()
	mutating := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	validating := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := k8s.List(t.Context(), mutating); err != nil {
		t.Fatal(err)
	}
	if err := k8s.List(t.Context(), validating); err != nil {
		t.Fatal(err)
	}
	for _, m := range mutating.Items {
		t.Errorf("MutatingWebhookConfiguration %s is left after uninstall", m.Name)
	}
	for _, v := range validating.Items {
		t.Errorf("ValidatingWebhookConfiguration %s is left after uninstall", v.Name)
	}
}

// assertBrokenStatefulSetCreated creates, for real, a StatefulSet that
// setwarden denies, in an ordinary namespace: with no webhook left, nothing
// may stand in its way.
func assertBrokenStatefulSetCreated(t *testing.T) {
	t.Helper()
	ensureWorkloadNamespace(t)
	sts := framework.BrokenStatefulSet(workloadNamespace)
	if err := k8s.Create(t.Context(), sts); err != nil {
		t.Errorf("after uninstall, creating a StatefulSet failed: %v", err)
		return
	}
	if err := k8s.Delete(t.Context(), sts); err != nil {
		t.Error(err)
	}
}

// webhookConfigurations returns the release's two webhook configurations.
func webhookConfigurations(t *testing.T, name string) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := k8s.Get(t.Context(), client.ObjectKey{Name: name}, m); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(t.Context(), client.ObjectKey{Name: name}, v); err != nil {
		t.Fatal(err)
	}
	return m, v
}

// caBundles returns the CA bundle of every webhook of the release, keyed
// by the webhook's name.
func caBundles(t *testing.T, name string) map[string][]byte {
	t.Helper()
	m, v := webhookConfigurations(t, name)
	out := map[string][]byte{}
	for _, w := range m.Webhooks {
		out[w.Name] = w.ClientConfig.CABundle
	}
	for _, w := range v.Webhooks {
		out[w.Name] = w.ClientConfig.CABundle
	}
	return out
}

// webhookNames are the webhooks of files/webhooks.yaml.
var webhookNames = []string{"mutate.setwarden.dev", "validate.setwarden.dev"}

// assertCABundles fails the test unless both webhooks carry want.
func assertCABundles(t *testing.T, name string, want []byte) {
	t.Helper()
	got := caBundles(t, name)
	for _, wh := range webhookNames {
		if !bytes.Equal(got[wh], want) {
			t.Errorf("webhook %s has CA bundle %q, want %q", wh, got[wh], want)
		}
	}
	if len(got) != len(webhookNames) {
		t.Errorf("webhooks %v, want %v", slices.Sorted(maps.Keys(got)), webhookNames)
	}
}
