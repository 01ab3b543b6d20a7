package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/policies"
)

var chartAuditArgs = []string{"--set", "audit.enabled=true"}

// TestChartAuditIsOffByDefault checks that a default install renders no
// audit object and no CRD.
func TestChartAuditIsOffByDefault(t *testing.T) {
	for _, o := range chartObjects(t, chartTemplate(t, "sw", chartNamespace)) {
		if strings.Contains(o.Name, "audit") || o.Kind == "CustomResourceDefinition" {
			t.Errorf("default values render %s %s", o.Kind, o.Name)
		}
	}
}

// TestChartAuditDeployment checks the audit pod: PodSecurity restricted
// with the webhook pod's security contexts, one replica running `audit
// --watch` under its own ServiceAccount, and labels that the webhook's
// Service, PodDisruptionBudget and NetworkPolicy do not select.
func TestChartAuditDeployment(t *testing.T) {
	objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, chartAuditArgs...))
	audit, webhook := &appsv1.Deployment{}, &appsv1.Deployment{}
	chartDecode(t, objs, "Deployment", "sw-setwarden-audit", audit)
	chartDecode(t, objs, "Deployment", "sw-setwarden", webhook)
	evaluator, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pod := &audit.Spec.Template
	for _, r := range evaluator.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &pod.ObjectMeta, &pod.Spec) {
		if !r.Allowed {
			t.Errorf("PodSecurity restricted forbids %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
		}
	}
	if diff := cmp.Diff(webhook.Spec.Template.Spec.SecurityContext, pod.Spec.SecurityContext); diff != "" {
		t.Errorf("pod securityContext differs from the webhook's (-webhook +audit):\n%s", diff)
	}
	c := pod.Spec.Containers[0]
	if diff := cmp.Diff(webhook.Spec.Template.Spec.Containers[0].SecurityContext, c.SecurityContext); diff != "" {
		t.Errorf("container securityContext differs from the webhook's (-webhook +audit):\n%s", diff)
	}
	if *audit.Spec.Replicas != 1 || pod.Spec.ServiceAccountName != "sw-setwarden-audit" {
		t.Errorf("replicas %d, serviceAccountName %q; want 1 and sw-setwarden-audit", *audit.Spec.Replicas, pod.Spec.ServiceAccountName)
	}
	wantArgs := []string{"audit", "--watch", "--config-from-cluster", "--setwarden-namespace=" + chartNamespace,
		"--setwarden-configmap=sw-setwarden-config", "--events=true", "--workers=4", "--leader-elect=true",
		"--leader-election-id=sw-setwarden-audit", "--leader-election-namespace=" + chartNamespace,
		"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--zap-log-level=info", "--zap-encoder=json"}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("the audit container needs probes and a memory limit")
	}
	svc, pdb, np := &corev1.Service{}, &policyv1.PodDisruptionBudget{}, &networkingv1.NetworkPolicy{}
	chartDecode(t, objs, "Service", "sw-setwarden", svc)
	chartDecode(t, objs, "PodDisruptionBudget", "sw-setwarden", pdb)
	chartDecode(t, objs, "NetworkPolicy", "sw-setwarden", np)
	podLabels := pod.Labels
	selects := func(sel map[string]string) bool {
		for k, v := range sel {
			if podLabels[k] != v {
				return false
			}
		}
		return true
	}
	if selects(svc.Spec.Selector) || selects(pdb.Spec.Selector.MatchLabels) || selects(np.Spec.PodSelector.MatchLabels) {
		t.Errorf("the webhook's Service, PDB or NetworkPolicy selects the audit pods (labels %v)", podLabels)
	}
	auditNP := &networkingv1.NetworkPolicy{}
	chartDecode(t, objs, "NetworkPolicy", "sw-setwarden-audit", auditNP)
	if !selects(auditNP.Spec.PodSelector.MatchLabels) || len(auditNP.Spec.Ingress) != 1 || auditNP.Spec.Ingress[0].Ports[0].Port.IntValue() != 8080 {
		t.Errorf("the audit NetworkPolicy must select the audit pods and admit only the metrics port: %+v", auditNP.Spec)
	}
}

// TestChartAuditMetrics checks the audit's metrics Service, its
// ServiceMonitor, and what metrics.secure adds: the flags and the token and
// access reviews metricsauth makes.
func TestChartAuditMetrics(t *testing.T) {
	objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, append(chartAuditArgs, "--set", "metrics.secure=true",
		"--set", "metrics.serviceMonitor.enabled=true")...))
	d, svc, cr := &appsv1.Deployment{}, &corev1.Service{}, &rbacv1.ClusterRole{}
	chartDecode(t, objs, "Deployment", "sw-setwarden-audit", d)
	chartDecode(t, objs, "Service", "sw-setwarden-audit", svc)
	chartDecode(t, objs, "ClusterRole", "sw-setwarden-audit", cr)
	args := d.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--metrics-secure") || !slices.Contains(args, "--tls-min-version=1.3") {
		t.Errorf("args %v lack --metrics-secure and --tls-min-version", args)
	}
	if !cmp.Equal(svc.Spec.Selector, d.Spec.Selector.MatchLabels) || svc.Spec.Ports[0].Name != "metrics" {
		t.Errorf("the metrics Service selects %v on %+v, want the audit pods' metrics port", svc.Spec.Selector, svc.Spec.Ports)
	}
	reviews := []rbacv1.PolicyRule{
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
	if diff := cmp.Diff(reviews, cr.Rules[len(cr.Rules)-2:]); diff != "" {
		t.Errorf("secure metrics rules (-want +got):\n%s", diff)
	}
	found := false
	for _, o := range objs {
		found = found || o.Kind == "ServiceMonitor" && o.Name == "sw-setwarden-audit"
	}
	if !found {
		t.Errorf("no ServiceMonitor for the audit")
	}
}

// TestChartAuditReplicas checks that two replicas render with leader
// election and are refused without it.
func TestChartAuditReplicas(t *testing.T) {
	objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, append(chartAuditArgs, "--set", "audit.replicas=2")...))
	d := &appsv1.Deployment{}
	chartDecode(t, objs, "Deployment", "sw-setwarden-audit", d)
	if *d.Spec.Replicas != 2 || !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--leader-elect=true") {
		t.Errorf("replicas %d, args %v; want 2 with --leader-elect=true", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Args)
	}
	args := append([]string{"template", "sw", chartDir, "--namespace", chartNamespace, "--kube-version", chartKubeVersion},
		append(chartAuditArgs, "--set", "audit.replicas=2", "--set", "audit.leaderElection=false")...)
	if _, stderr, ok := chartRunHelm(t, args...); ok || !strings.Contains(stderr, "needs audit.leaderElection") {
		t.Errorf("two replicas without leader election rendered; stderr %q", stderr)
	}
}

// TestChartAuditRBAC checks the audit ServiceAccount's grants: list and
// watch of the judged kinds (policies.Kinds(), so that a new kind cannot be
// forgotten), Services, Nodes and its ConfigMap by name; writes of Reports,
// Events and its own Lease; nothing else.
func TestChartAuditRBAC(t *testing.T) {
	objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, chartAuditArgs...))
	cr, role := &rbacv1.ClusterRole{}, &rbacv1.Role{}
	chartDecode(t, objs, "ClusterRole", "sw-setwarden-audit", cr)
	chartDecode(t, objs, "Role", "sw-setwarden-audit", role)
	read := map[string][]string{}
	for _, k := range policies.Kinds() {
		read[k.Group] = append(read[k.Group], k.Resource)
	}
	read[""] = append(read[""], "services", "nodes")
	var got []string
	readVerbs := []string{"list", "watch"}
	for _, r := range cr.Rules {
		if slices.Equal(r.Verbs, readVerbs) {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					got = append(got, g+"/"+res)
				}
			}
		}
	}
	var want []string
	for g, rs := range read {
		for _, r := range rs {
			want = append(want, g+"/"+r)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("read-only resources (-want +got):\n%s", diff)
	}
	writes := slices.DeleteFunc(slices.Clone(cr.Rules), func(r rbacv1.PolicyRule) bool { return slices.Equal(r.Verbs, readVerbs) })
	wantWrites := []rbacv1.PolicyRule{
		{APIGroups: []string{"openreports.io"}, Resources: []string{"reports"}, Verbs: []string{"list", "watch", "create", "patch", "delete"}},
		{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	if diff := cmp.Diff(wantWrites, writes); diff != "" {
		t.Errorf("ClusterRole writes (-want +got):\n%s", diff)
	}
	wantRole := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"sw-setwarden-config"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"sw-setwarden-audit"}, Verbs: []string{"get", "update"}},
	}
	if diff := cmp.Diff(wantRole, role.Rules); diff != "" {
		t.Errorf("Role rules (-want +got):\n%s", diff)
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		var b struct {
			RoleRef  rbacv1.RoleRef   `json:"roleRef"`
			Subjects []rbacv1.Subject `json:"subjects"`
		}
		for _, o := range objs {
			if o.Kind == kind && o.Name == "sw-setwarden-audit" {
				if err := yaml.Unmarshal(o.YAML, &b); err != nil {
					t.Fatal(err)
				}
			}
		}
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sw-setwarden-audit", Namespace: chartNamespace}}
		if b.RoleRef.Name != "sw-setwarden-audit" || !cmp.Equal(want, b.Subjects) {
			t.Errorf("%s binds %+v to %+v", kind, b.RoleRef, b.Subjects)
		}
	}
	lease := struct {
		Kind     string            `json:"kind"`
		Metadata metav1.ObjectMeta `json:"metadata"`
	}{}
	for _, o := range objs {
		if o.Kind == "Lease" && o.Name == "sw-setwarden-audit" {
			_ = yaml.Unmarshal(o.YAML, &lease)
		}
	}
	if lease.Kind != "Lease" {
		t.Errorf("the chart must create the audit Lease, since the Role grants no create")
	}
}

// TestChartAuditCRDs checks that the CRDs are the openreports.io ones of
// reports-api v0.2.1, unchanged but for the keep annotation, and that
// reports.installCRDs=false leaves them out.
func TestChartAuditCRDs(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/openreports/reports-api").Output()
	if err != nil {
		t.Fatalf("locating reports-api: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, chartAuditArgs...))
	for _, name := range []string{"reports.openreports.io", "clusterreports.openreports.io"} {
		got := &apiextensionsv1.CustomResourceDefinition{}
		chartDecode(t, objs, "CustomResourceDefinition", name, got)
		data, err := os.ReadFile(filepath.Join(dir, "config", "crd", "openreports.io_"+strings.TrimSuffix(name, ".openreports.io")+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		want := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, want); err != nil {
			t.Fatal(err)
		}
		if got.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("%s is not kept on uninstall", name)
		}
		delete(got.Annotations, "helm.sh/resource-policy")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s differs from reports-api v0.2.1's (-upstream +chart):\n%s", name, diff)
		}
	}
	for _, o := range chartObjects(t, chartTemplate(t, "sw", chartNamespace, append(chartAuditArgs, "--set", "reports.installCRDs=false")...)) {
		if o.Kind == "CustomResourceDefinition" {
			t.Errorf("reports.installCRDs=false renders %s", o.Name)
		}
	}
}
