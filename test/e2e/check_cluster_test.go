package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/setwarden/setwarden/cmd/setwarden/app"
)

// checkJSON runs `setwarden check -o json` with args and returns the exit
// code and "action rule kind/name" per finding, plus skipped rule IDs.
func checkJSON(t *testing.T, args ...string) (int, []string, []string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := app.Run(t.Context(), append([]string{"check", "-o", "json"}, args...), nil, &stdout, &stderr)
	var out struct {
		Results []struct {
			Rule, Action string
			Object       struct{ Kind, Name string }
		}
		Summary struct {
			Skipped []struct{ Rule string }
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("check output is not JSON (%v): %s %s", err, stdout.String(), stderr.String())
	}
	var findings, skipped []string
	for _, r := range out.Results {
		findings = append(findings, r.Action+" "+r.Rule+" "+r.Object.Kind+"/"+r.Object.Name)
	}
	for _, s := range out.Summary.Skipped {
		skipped = append(skipped, s.Rule)
	}
	sort.Strings(findings)
	sort.Strings(skipped)
	return code, findings, skipped
}

func TestCheckAgainstTheCluster(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, service(ns, "db-headless", true, map[string]string{"app": "db"}))
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-" + ns, Labels: map[string]string{
		"kubernetes.io/hostname": "worker-" + ns, "topology.kubernetes.io/zone": "zone-a"}}}
	mustCreate(t, node)
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), node) })

	dir := t.TempDir()
	manifest := filepath.Join(dir, "app.yaml")
	write := func(path, doc string) {
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(manifest, e2eManifest(t, "statefulset-pinned-to-zone-b.yaml", ns))
	notHeadless := filepath.Join(dir, "service.yaml")
	write(notHeadless, e2eManifest(t, "service-not-headless.yaml", ns))
	cluster := []string{"--cluster", "--kubeconfig", env.Kubeconfig}
	nodeRules := []string{"node-affinity-no-matching-nodes", "pod-anti-affinity-exceeds-domains", "topology-key-unknown"}
	tests := []struct {
		name         string
		args         []string
		wantCode     int
		wantFindings []string
		wantSkipped  []string
	}{
		{
			name:         "offline, the Service is missing and the node rules are skipped",
			args:         []string{manifest},
			wantFindings: []string{"Warn statefulset-service-missing StatefulSet/db"},
			wantSkipped:  nodeRules,
		},
		{
			name:         "with --cluster, the Service and the Nodes come from the cluster",
			args:         append([]string{manifest}, cluster...),
			wantFindings: []string{"Warn node-affinity-no-matching-nodes StatefulSet/db"},
		},
		{
			name:         "objects in the input take precedence over the cluster's",
			args:         append([]string{manifest, notHeadless}, cluster...),
			wantCode:     1,
			wantFindings: []string{"Deny statefulset-service-headless StatefulSet/db", "Warn node-affinity-no-matching-nodes StatefulSet/db"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, findings, skipped := checkJSON(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantFindings, findings); diff != "" {
				t.Errorf("findings differ (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSkipped, skipped); diff != "" {
				t.Errorf("skipped rules differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckWithTheInstalledConfig(t *testing.T) {
	ns := newNamespace(t)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "setwarden-config", Namespace: "setwarden-system"},
		Data: map[string]string{"config.yaml": "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n" +
			"rules:\n  statefulset-volume-claim-templates: {action: Audit}\n"},
	}
	mustCreate(t, cm)
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), cm) })
	manifest := filepath.Join(t.TempDir(), "cache.yaml")
	doc := e2eManifest(t, "statefulset-without-claims-and-its-service.yaml", ns)
	if err := os.WriteFile(manifest, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("the built-in defaults deny a StatefulSet without claim templates", func(t *testing.T) {
		code, findings, _ := checkJSON(t, manifest)
		if diff := cmp.Diff([]string{"Deny statefulset-volume-claim-templates StatefulSet/cache"}, findings); diff != "" || code != 1 {
			t.Errorf("exit %d, findings (-want +got):\n%s", code, diff)
		}
	})
	t.Run("the installed PolicyConfig only audits it", func(t *testing.T) {
		code, findings, _ := checkJSON(t, manifest, "--config-from-cluster", "--kubeconfig", env.Kubeconfig)
		if diff := cmp.Diff([]string{"Audit statefulset-volume-claim-templates StatefulSet/cache"}, findings); diff != "" || code != 0 {
			t.Errorf("exit %d, findings (-want +got):\n%s", code, diff)
		}
	})
	t.Run("a missing installed config is an input error that names the ConfigMap, and the rest is checked with the defaults", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := app.Run(t.Context(), []string{"check", manifest, "--config-from-cluster", "--kubeconfig", env.Kubeconfig,
			"--setwarden-namespace", "nowhere"}, nil, &stdout, &stderr)
		if code != app.ExitUsage || !bytes.Contains(stdout.Bytes(), []byte("ConfigMap nowhere/setwarden-config")) ||
			!bytes.Contains(stdout.Bytes(), []byte("Deny statefulset-volume-claim-templates")) {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
		}
	})
}
