package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/cmd/setwarden/app"
	auditpkg "github.com/setwarden/setwarden/internal/audit"
	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/test/framework"
)

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "audit-" + rand.String(6)}}
	if err := env.Client.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ns) })
	return ns.Name
}

// kubectl runs bin/kubectl against the test's API server.
func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), framework.Kubectl(), append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// applyFixture applies testdata/name with its placeholders replaced.
func applyFixture(t *testing.T, name string, replace ...string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kubectl(t, strings.NewReplacer(replace...).Replace(string(data)), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// labelledNode creates a Node with one label, deleted after the test.
func labelledNode(t *testing.T, name, key, value string) *corev1.Node {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{key: value, "kubernetes.io/hostname": name}}}
	if err := env.Client.Create(t.Context(), node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), node) })
	return node
}

// auditOutput is `setwarden audit -o json`.
type auditOutput struct {
	Results []report.Result  `json:"results"`
	Summary report.Summary   `json:"summary"`
	Errors  []report.Problem `json:"errors"`
}

// findings returns "action rule kind/name" per result, sorted.
func (o auditOutput) findings() []string {
	var out []string
	for _, r := range o.Results {
		out = append(out, string(r.Action)+" "+r.Rule+" "+r.Object.Kind+"/"+r.Object.Name)
	}
	sort.Strings(out)
	return out
}

// runAudit runs setwarden audit with args against the test's API server.
func runAudit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = app.Run(t.Context(), append([]string{"audit", "--kubeconfig", env.Kubeconfig}, args...), nil, &out, &errOut)
	return code, out.String(), errOut.String()
}

// auditJSON runs `setwarden audit -o json` with args and decodes it.
func auditJSON(t *testing.T, args ...string) (int, auditOutput) {
	t.Helper()
	code, stdout, stderr := runAudit(t, append([]string{"-o", "json"}, args...)...)
	var out auditOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("audit output is not JSON (%v): %s %s", err, stdout, stderr)
	}
	return code, out
}

func TestAuditJudgesWhatRunsNow(t *testing.T) {
	ns := newNamespace(t)
	gpu := "gpu.example/" + ns
	node := labelledNode(t, "gpu-"+ns, gpu, "a100")
	applyFixture(t, "running-workloads.yaml", "NAMESPACE", ns, "GPU_LABEL", gpu)
	step := func(name string, change func(t *testing.T), want []string) {
		t.Run(name, func(t *testing.T) {
			if change != nil {
				change(t)
			}
			code, out := auditJSON(t, "-n", ns)
			if diff := cmp.Diff(want, out.findings()); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if code != 0 || len(out.Errors) > 0 {
				t.Errorf("exit %d, errors %v; want 0 and none (Warn findings fail nothing)", code, out.Errors)
			}
			for _, r := range out.Results {
				if r.File != "" || r.Line != 0 || r.Object.Namespace != ns || r.Object.APIVersion == "" {
					t.Errorf("result %+v: want the object named, without file or line", r)
				}
			}
			if c := out.Summary.Cluster; c == nil || c.Controlled != 2 || c.Namespace != ns ||
				c.Config != "the built-in defaults (no ConfigMap setwarden-system/setwarden-config)" {
				t.Errorf("cluster summary %+v, want the ReplicaSet and the Pod controlled, the built-in defaults", c)
			}
		})
	}
	step("a violation created directly is reported, on the Deployment only", nil,
		[]string{"Warn toleration-value-fragile Deployment/web"})
	step("fixing the object clears it", func(t *testing.T) {
		var web appsv1.Deployment
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "web"}, &web); err != nil {
			t.Fatal(err)
		}
		web.Spec.Template.Spec.Tolerations[0] = corev1.Toleration{Key: "node-role.kubernetes.io/control-plane",
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
		if err := env.Client.Update(t.Context(), &web); err != nil {
			t.Fatal(err)
		}
	}, nil)
	step("deleting the governing Service raises statefulset-service-missing", func(t *testing.T) {
		if err := env.Client.Delete(t.Context(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}}); err != nil {
			t.Fatal(err)
		}
	}, []string{"Warn statefulset-service-missing StatefulSet/db"})
	step("relabelling the only GPU node raises node-affinity-no-matching-nodes", func(t *testing.T) {
		applyFixture(t, "running-workloads.yaml", "NAMESPACE", ns, "GPU_LABEL", gpu) // the Service is back
		node.Labels[gpu] = "t4"
		if err := env.Client.Update(t.Context(), node); err != nil {
			t.Fatal(err)
		}
	}, []string{"Warn node-affinity-no-matching-nodes StatefulSet/db", "Warn toleration-value-fragile Deployment/web"})
}

func TestAuditWhatIfPromotingAWarnRule(t *testing.T) {
	ns := newNamespace(t)
	gpu := "gpu.example/" + ns
	labelledNode(t, "cpu-"+ns, gpu, "none")
	applyFixture(t, "running-workloads.yaml", "NAMESPACE", ns, "GPU_LABEL", gpu)
	proposed := filepath.Join(t.TempDir(), "proposed.yaml")
	if err := os.WriteFile(proposed, []byte("apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\nrules:\n"+
		"  node-affinity-no-matching-nodes: {action: Deny}\n  toleration-value-fragile: {action: Off}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runAudit(t, "-n", ns, "--what-if", proposed, "-o", "json")
	var rep auditpkg.WhatIfReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("what-if output is not JSON (%v): %s %s", err, stdout, stderr)
	}
	if code != app.ExitDenied {
		t.Errorf("exit %d, want %d: the proposed config newly denies an object", code, app.ExitDenied)
	}
	var got []string
	for _, rc := range rep.Rules {
		for _, c := range rc.NewlyDenied {
			got = append(got, fmt.Sprintf("%s newly denied %s/%s (was %s)", rc.Rule, c.Object.Kind, c.Object.Name, c.From))
		}
		for _, c := range rc.NoLongerFlagged {
			got = append(got, fmt.Sprintf("%s no longer flagged %s/%s (was %s)", rc.Rule, c.Object.Kind, c.Object.Name, c.From))
		}
	}
	want := []string{
		"toleration-value-fragile no longer flagged Deployment/web (was Warn)",
		"node-affinity-no-matching-nodes newly denied StatefulSet/db (was Warn)",
	}
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if rep.Totals != (auditpkg.Totals{NewlyDenied: 1, NoLongerFlagged: 1}) {
		t.Errorf("totals %+v", rep.Totals)
	}
	t.Run("the text report lists them and how many objects violate each rule now", func(t *testing.T) {
		code, stdout, _ := runAudit(t, "-n", ns, "--what-if", proposed, "--fail-on", "never")
		for _, line := range []string{
			"  Deny (was Warn) StatefulSet.apps " + ns + "/db: spec.template.spec.affinity.nodeAffinity",
			"What if: 1 newly denied, 0 newly warned, 0 newly audited, 1 no longer flagged\n",
			"    toleration-value-fragile: Warn 1\n    node-affinity-no-matching-nodes: Warn 1\n",
		} {
			if !strings.Contains(stdout, line) {
				t.Errorf("text lacks %q:\n%s", line, stdout)
			}
		}
		if code != 0 {
			t.Errorf("exit %d with --fail-on never", code)
		}
	})
}

func TestAuditOfAnUnreadableCluster(t *testing.T) {
	t.Run("an unreachable API server is an error with its message", func(t *testing.T) {
		kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := app.Run(t.Context(), []string{"audit", "-A", "--kubeconfig", kubeconfig}, nil, &stdout, &stderr)
		if code != app.ExitUsage || !strings.Contains(stderr.String(), "connection refused") {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	})
	t.Run("a forbidden list is an error with the API server's message", func(t *testing.T) {
		cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		for _, user := range cfg.AuthInfos {
			user.Impersonate = "auditor-without-rights"
		}
		kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
			t.Fatal(err)
		}
		policy := filepath.Join(t.TempDir(), "policy.yaml")
		if err := os.WriteFile(policy, []byte("apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := app.Run(t.Context(), []string{"audit", "-A", "--kubeconfig", kubeconfig, "--config", policy}, nil, &stdout, &stderr)
		want := `services is forbidden: User "auditor-without-rights" cannot list resource "services" in API group "" at the cluster scope`
		if code != app.ExitUsage || !strings.Contains(stderr.String(), want) {
			t.Errorf("exit %d, stderr %q, want %q", code, stderr.String(), want)
		}
	})
}
