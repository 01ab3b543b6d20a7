package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

// kubectl runs the kubectl built by the harness against the test API server.
func kubectl(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), framework.Kubectl(), append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func TestKubectlServerSideDryRun(t *testing.T) {
	ns := newNamespace(t)
	brokenSTS := e2eManifest(t, "statefulset-without-service-name-or-claims.yaml", ns)
	agent := e2eManifest(t, "agent-daemonset.yaml", ns)
	orphan := e2eManifest(t, "statefulset-whose-service-is-missing.yaml", ns)
	t.Run("a broken StatefulSet is denied with the same message as a real create, and nothing is persisted", func(t *testing.T) {
		_, stderr, err := kubectl(t, brokenSTS, "apply", "--dry-run=server", "-f", "-")
		if err == nil {
			t.Fatal("kubectl apply --dry-run=server succeeded, want a denial")
		}
		// kubectl renders the structured Invalid status as a list of every field error.
		want := "The StatefulSet \"redis\" is invalid: \n* " + msgServiceName + "\n* " + msgClaims
		if got := strings.TrimSpace(stderr); got != want {
			t.Errorf("wrong error:\n got: %s\nwant: %s", got, want)
		}
		assertAbsent(t, &appsv1.StatefulSet{}, ns, "redis")
	})
	t.Run("an agent DaemonSet is shown with its tolerations added, and nothing is persisted", func(t *testing.T) {
		stdout, stderr, err := kubectl(t, agent, "apply", "--dry-run=server", "-f", "-", "-o", "jsonpath={.spec.template.spec.tolerations}")
		if err != nil {
			t.Fatalf("kubectl: %v: %s", err, stderr)
		}
		want := `[{"effect":"NoSchedule","key":"node-role.kubernetes.io/control-plane","operator":"Exists"},{"effect":"NoSchedule","key":"node-role.kubernetes.io/master","operator":"Exists"}]`
		if stdout != want {
			t.Errorf("tolerations:\n got: %s\nwant: %s", stdout, want)
		}
		assertAbsent(t, &appsv1.DaemonSet{}, ns, "fluent-bit")
	})
	t.Run("a StatefulSet whose Service is missing is admitted with the same warning", func(t *testing.T) {
		_, stderr, err := kubectl(t, orphan, "apply", "--dry-run=server", "-f", "-")
		if err != nil {
			t.Fatalf("kubectl: %v: %s", err, stderr)
		}
		want := `Warning: statefulset-service-missing: no Service "kafka-headless" in namespace "` + ns + `"; create a headless Service (clusterIP: None) of that name that selects the pods`
		if got := strings.TrimSpace(stderr); got != want {
			t.Errorf("warnings:\n got: %s\nwant: %s", got, want)
		}
		assertAbsent(t, &appsv1.StatefulSet{}, ns, "kafka")
	})
}

func assertAbsent(t *testing.T, obj client.Object, ns, name string) {
	t.Helper()
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, obj); !apierrors.IsNotFound(err) {
		t.Errorf("%s/%s should not exist after a dry run, got err=%v", ns, name, err)
	}
}

// withoutValidatingWebhook removes setwarden's validating webhook for the
// duration of fn, as before setwarden was installed, then restores it.
func withoutValidatingWebhook(t *testing.T, fn func()) {
	t.Helper()
	_, validating, err := framework.LoadWebhookConfigurations()
	if err != nil {
		t.Fatal(err)
	}
	stored := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: validating[0].Name}, stored); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	defer func() {
		restored := stored.DeepCopy()
		restored.ResourceVersion, restored.UID = "", ""
		if err := env.Client.Create(context.Background(), restored); err != nil {
			t.Fatalf("restoring the validating webhook: %v", err)
		}
		// The API server picks up webhook configurations asynchronously.
		waitFor(t, "the validating webhook to be back", func() bool {
			err := env.Client.Create(context.Background(), statefulSet(stored.Namespace+"default", "probe", "", false), client.DryRunAll)
			return err != nil && strings.Contains(err.Error(), "statefulset-service-name")
		})
	}()
	waitFor(t, "the validating webhook to be gone", func() bool {
		return env.Client.Create(t.Context(), statefulSet("default", "probe", "", false), client.DryRunAll) == nil
	})
	fn()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestUpdateOfPreexistingViolations(t *testing.T) {
	ns := newNamespace(t)
	legacy := statefulSet(ns, "legacy", "", false)
	withoutValidatingWebhook(t, func() { mustCreate(t, legacy) })

	t.Run("an update of a StatefulSet that already violated the rules is allowed with migration warnings", func(t *testing.T) {
		got := &appsv1.StatefulSet{}
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(legacy), got); err != nil {
			t.Fatal(err)
		}
		got.Spec.Template.Spec.Containers[0].Image = "registry.example/legacy:2.0"
		env.Warnings.Take()
		if err := env.Client.Update(t.Context(), got); err != nil {
			t.Fatalf("update was refused: %v", err)
		}
		want := []string{
			"statefulset-service-name: already missing before this update, so allowed with a warning; spec.serviceName is immutable: delete the StatefulSet with --cascade=orphan and recreate it naming a headless Service",
			"statefulset-volume-claim-templates: already missing before this update, so allowed with a warning; spec.volumeClaimTemplates is immutable: delete the StatefulSet with --cascade=orphan and recreate it with claim templates",
		}
		if diff := cmp.Diff(want, env.Warnings.Take()); diff != "" {
			t.Errorf("warnings differ (-want +got):\n%s", diff)
		}
	})
	t.Run("an update that introduces a new violation is denied", func(t *testing.T) {
		got := &appsv1.StatefulSet{}
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(legacy), got); err != nil {
			t.Fatal(err)
		}
		got.Spec.Template.Spec.Affinity = emptyAntiAffinity()
		err := env.Client.Update(t.Context(), got)
		if err == nil || !strings.Contains(err.Error(), denied+`StatefulSet.apps "legacy" is invalid: spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector: Invalid value: {}`) {
			t.Fatalf("got %v, want a denial for the empty anti-affinity selector", err)
		}
		if strings.Contains(err.Error(), "spec.serviceName") {
			t.Errorf("the grandfathered violation should not be part of the denial: %v", err)
		}
	})
}

func TestConfigChangeWithoutRestart(t *testing.T) {
	ns := newNamespace(t)
	original, err := os.ReadFile(env.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.WriteFile(env.ConfigPath, original, 0o600) })
	sts := statefulSet(ns, "scratch", "scratch-headless", false)
	mustCreate(t, service(ns, "scratch-headless", true, map[string]string{"app": "scratch"}))
	if err := env.Client.Create(t.Context(), sts.DeepCopy(), client.DryRunAll); err == nil {
		t.Fatal("a StatefulSet without claim templates should be denied before the change")
	}
	t.Run("an invalid config is rejected and the last good one stays in force", func(t *testing.T) {
		writeConfig(t, "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\nrules:\n  statefulset-volume-claim-templates: {action: Maybe}\n")
		time.Sleep(time.Second) // several poll intervals
		if err := env.Client.Create(t.Context(), sts.DeepCopy(), client.DryRunAll); err == nil {
			t.Fatal("an invalid config must not change the decision")
		}
		log, _ := os.ReadFile(env.ServerLog)
		if !strings.Contains(string(log), "Rejected new PolicyConfig; keeping the last good config in force") {
			t.Errorf("the server log does not say the config was rejected")
		}
	})
	t.Run("a rule switched from Deny to Warn takes effect without a restart", func(t *testing.T) {
		writeConfig(t, "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\nrules:\n  statefulset-volume-claim-templates: {action: Warn}\n")
		waitFor(t, "the new config", func() bool {
			return env.Client.Create(t.Context(), sts.DeepCopy(), client.DryRunAll) == nil
		})
		env.Warnings.Take()
		if err := env.Client.Create(t.Context(), sts.DeepCopy(), client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		want := []string{"statefulset-volume-claim-templates: add a volumeClaimTemplate so each pod gets a PersistentVolumeClaim that outlives it (or use a Deployment for stateless pods)"}
		if diff := cmp.Diff(want, env.Warnings.Take()); diff != "" {
			t.Errorf("warnings differ (-want +got):\n%s", diff)
		}
	})
}

func writeConfig(t *testing.T, doc string) {
	t.Helper()
	tmp := env.ConfigPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, env.ConfigPath); err != nil {
		t.Fatal(err)
	}
}
