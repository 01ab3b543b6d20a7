package chart

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/setwarden/setwarden/cmd/setwarden/app"
	"github.com/setwarden/setwarden/policies"
)

// chartPendingServeFlags are flags the chart passes that `setwarden serve`
// does not have yet: none, every flag must exist.
var chartPendingServeFlags []string

// TestChartDeploymentArgs pins the flags the chart passes to the server in
// each TLS mode, and checks that the server knows every one of them except
// the self-managed flags still to be implemented.
func TestChartDeploymentArgs(t *testing.T) {
	base := []string{"serve", "--port=9443", "--cert-dir=/var/run/setwarden/certs", "--config=/etc/setwarden/config.yaml",
		"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--tls-min-version=1.3",
		"--graceful-shutdown-timeout=30s", "--zap-log-level=info", "--zap-encoder=json"}
	selfManaged := []string{"--tls-mode=self-managed", "--tls-secret-name=sw-setwarden-tls",
		"--tls-secret-namespace=" + chartNamespace, "--tls-lease-name=sw-setwarden-tls",
		"--webhook-config-name=sw-setwarden", "--service-name=sw-setwarden"}
	cases := []struct {
		name, release, fullname string
		args                    []string
		want                    []string
	}{
		{name: "self-managed TLS names the Secret, Lease, webhook configurations and Service the server manages",
			release: "sw", fullname: "sw-setwarden", want: append(slices.Clone(base), selfManaged...)},
		{name: "cert-manager TLS only reads the mounted certificate", release: "sw", fullname: "sw-setwarden",
			args: []string{"--set", "tls.mode=cert-manager"}, want: base},
		{name: "an operator's Secret is only read too", release: "sw", fullname: "sw-setwarden", args: chartSecretModeArgs, want: base},
		{name: "every value set", release: "everything", fullname: "policy-warden",
			args: []string{"-f", chartEverything},
			want: []string{"serve", "--port=10250", "--cert-dir=/var/run/setwarden/certs", "--config=/etc/setwarden/config.yaml",
				"--metrics-bind-address=:9090", "--health-probe-bind-address=:9091", "--tls-min-version=1.2",
				"--graceful-shutdown-timeout=45s", "--zap-log-level=debug", "--zap-encoder=console",
				"--tls-mode=self-managed", "--tls-secret-name=warden-serving-cert", "--tls-secret-namespace=" + chartNamespace,
				"--tls-lease-name=policy-warden-tls", "--webhook-config-name=policy-warden", "--service-name=policy-warden",
				"--config-poll-interval=5s"}},
		{name: "metrics disabled", release: "sw", fullname: "sw-setwarden",
			args: []string{"--set", "metrics.enabled=false", "--set", "tls.mode=cert-manager"},
			want: append(append(slices.Clone(base[:4]), "--metrics-bind-address=0"), base[5:]...)},
	}
	serve, _, err := app.NewRootCommand(app.Streams{}).Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &appsv1.Deployment{}
			chartDecode(t, chartObjects(t, chartTemplate(t, tc.release, chartNamespace, tc.args...)), "Deployment", tc.fullname, d)
			got := d.Spec.Template.Spec.Containers[0].Args
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("server args (-want +got):\n%s", diff)
			}
			for _, arg := range got[1:] {
				name, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
				if serve.Flags().Lookup(name) == nil && !slices.Contains(chartPendingServeFlags, name) {
					t.Errorf("setwarden serve has no flag --%s", name)
				}
			}
		})
	}
}

// TestChartDeploymentHardening checks the pod against the PodSecurity
// restricted profile with the API server's own evaluator, and the
// availability settings: 2 replicas, a PodDisruptionBudget of one, health
// and readiness probes, resources, GOMEMLIMIT and a grace period that covers
// the preStop sleep and the shutdown.
func TestChartDeploymentHardening(t *testing.T) {
	evaluator, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range chartTLSModes {
		t.Run("tls.mode "+mode, func(t *testing.T) {
			objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, chartModeArgs(mode)...))
			d, pdb := &appsv1.Deployment{}, &policyv1.PodDisruptionBudget{}
			chartDecode(t, objs, "Deployment", "sw-setwarden", d)
			chartDecode(t, objs, "PodDisruptionBudget", "sw-setwarden", pdb)
			pod := &d.Spec.Template
			for _, r := range evaluator.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &pod.ObjectMeta, &pod.Spec) {
				if !r.Allowed {
					t.Errorf("PodSecurity restricted forbids %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
				}
			}
			c := pod.Spec.Containers[0]
			sc := c.SecurityContext
			if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*sc.RunAsNonRoot {
				t.Errorf("container securityContext = %+v, want a read-only root, no privilege escalation, non-root", sc)
			}
			if *d.Spec.Replicas != 2 || pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != intstr.FromInt32(1) {
				t.Errorf("replicas %d, PDB maxUnavailable %v; want 2 and 1", *d.Spec.Replicas, pdb.Spec.MaxUnavailable)
			}
			if diff := cmp.Diff(d.Spec.Selector, pdb.Spec.Selector); diff != "" {
				t.Errorf("the PDB does not select the Deployment's pods (-deployment +pdb):\n%s", diff)
			}
			probes := map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
			for path, p := range probes {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromString("healthz") {
					t.Errorf("probe for %s = %+v, want an HTTP GET of the healthz port", path, p)
				}
			}
			if !slices.Contains(c.Ports, corev1.ContainerPort{Name: "healthz", ContainerPort: 8081, Protocol: corev1.ProtocolTCP}) {
				t.Errorf("container ports %+v have no healthz port 8081", c.Ports)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources = %+v, want requests and limits", c.Resources)
			}
			goMemLimit := corev1.EnvVar{Name: "GOMEMLIMIT", ValueFrom: &corev1.EnvVarSource{
				ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}}
			if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return cmp.Equal(e, goMemLimit) }) {
				t.Errorf("env %+v has no GOMEMLIMIT from the memory limit", c.Env)
			}
			if grace := *pod.Spec.TerminationGracePeriodSeconds; grace <= 35 || c.Lifecycle.PreStop.Sleep.Seconds != 5 {
				t.Errorf("terminationGracePeriodSeconds %d with preStop sleep %d must cover them plus the 30s shutdown", grace, c.Lifecycle.PreStop.Sleep.Seconds)
			}
			if !*pod.Spec.AutomountServiceAccountToken {
				t.Errorf("the pod reads Services and Nodes, so it must mount its token")
			}
		})
	}
}

// TestChartSecureMetrics checks what metrics.secure renders: the server
// flag, a reader ClusterRole for scrapers, and an HTTPS ServiceMonitor.
func TestChartSecureMetrics(t *testing.T) {
	objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, "--set", "metrics.secure=true", "--set", "metrics.serviceMonitor.enabled=true"))
	dep := &appsv1.Deployment{}
	chartDecode(t, objs, "Deployment", "sw-setwarden", dep)
	if !slices.Contains(dep.Spec.Template.Spec.Containers[0].Args, "--metrics-secure") {
		t.Errorf("the server is not started with --metrics-secure: %v", dep.Spec.Template.Spec.Containers[0].Args)
	}
	reader := &rbacv1.ClusterRole{}
	chartDecode(t, objs, "ClusterRole", "sw-setwarden-metrics-reader", reader)
	want := []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}
	if diff := cmp.Diff(want, reader.Rules); diff != "" {
		t.Errorf("metrics reader rules (-want +got):\n%s", diff)
	}
	plain := chartObjects(t, chartTemplate(t, "sw", chartNamespace))
	chartDecode(t, plain, "Deployment", "sw-setwarden", dep)
	if slices.Contains(dep.Spec.Template.Spec.Containers[0].Args, "--metrics-secure") {
		t.Errorf("metrics are secure by default, want plain HTTP unless metrics.secure is set")
	}
}

// TestChartRBAC pins every permission the chart grants, per TLS mode.
func TestChartRBAC(t *testing.T) {
	view := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services", "nodes"}, Verbs: []string{"get", "list", "watch"}}
	cases := []struct {
		name        string
		args        []string
		clusterRole []rbacv1.PolicyRule
		tlsCluster  []rbacv1.PolicyRule
		tlsRole     []rbacv1.PolicyRule
	}{
		{name: "self-managed may write only its own webhook configurations, Secret and Lease",
			clusterRole: []rbacv1.PolicyRule{view},
			tlsCluster: []rbacv1.PolicyRule{{APIGroups: []string{"admissionregistration.k8s.io"},
				Resources:     []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"},
				ResourceNames: []string{"sw-setwarden"}, Verbs: []string{"get", "update", "patch"}}},
			tlsRole: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"sw-setwarden-tls"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"sw-setwarden-tls"}, Verbs: []string{"get", "update", "patch"}},
			}},
		{name: "cert-manager mode only reads", args: []string{"--set", "tls.mode=cert-manager"}, clusterRole: []rbacv1.PolicyRule{view}},
		{name: "secret mode only reads", args: chartSecretModeArgs, clusterRole: []rbacv1.PolicyRule{view}},
		{name: "events add create and patch on events", args: []string{"--set", "tls.mode=cert-manager", "--set", "rbac.events=true"},
			clusterRole: []rbacv1.PolicyRule{view, {APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}}}},
		{name: "secure metrics add token and access reviews", args: []string{"--set", "tls.mode=cert-manager", "--set", "metrics.secure=true"},
			clusterRole: []rbacv1.PolicyRule{view,
				{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
				{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, tc.args...))
			cr := &rbacv1.ClusterRole{}
			chartDecode(t, objs, "ClusterRole", "sw-setwarden", cr)
			if diff := cmp.Diff(tc.clusterRole, cr.Rules); diff != "" {
				t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
			}
			var gotTLSCluster, gotTLSRole []rbacv1.PolicyRule
			if tc.tlsCluster != nil {
				tcr, role := &rbacv1.ClusterRole{}, &rbacv1.Role{}
				chartDecode(t, objs, "ClusterRole", "sw-setwarden-tls", tcr)
				chartDecode(t, objs, "Role", "sw-setwarden-tls", role)
				gotTLSCluster, gotTLSRole = tcr.Rules, role.Rules
			}
			if diff := cmp.Diff(tc.tlsCluster, gotTLSCluster); diff != "" {
				t.Errorf("TLS ClusterRole rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.tlsRole, gotTLSRole); diff != "" {
				t.Errorf("TLS Role rules (-want +got):\n%s", diff)
			}
			sa := &corev1.ServiceAccount{}
			chartDecode(t, objs, "ServiceAccount", "sw-setwarden", sa)
			if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
				t.Errorf("the ServiceAccount must not mount its token into every pod that uses it")
			}
		})
	}
}

// TestChartSelfManagedSecretIsEmpty checks that the chart creates the
// self-managed Secret, so the server needs no create verb, with no data
// field at all: keys the chart rendered empty would be the chart's, and a
// GitOps sync (Argo CD, Flux's server-side apply) would empty the
// certificate the server wrote into them. It is Opaque because the API
// server warns about a kubernetes.io/tls Secret without PEM data on every
// install.
func TestChartSelfManagedSecretIsEmpty(t *testing.T) {
	objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace))
	s := &corev1.Secret{}
	chartDecode(t, objs, "Secret", "sw-setwarden-tls", s)
	if s.Type != corev1.SecretTypeOpaque || s.Data != nil || s.StringData != nil {
		t.Errorf("Secret type %q data %q stringData %q, want Opaque with no data", s.Type, s.Data, s.StringData)
	}
}

// TestChartPolicyConfig parses the ConfigMap's PolicyConfig with the parser
// the server and `setwarden check --config` use.
func TestChartPolicyConfig(t *testing.T) {
	cases := []struct {
		name, release, fullname string
		args                    []string
		want                    string // the golden config.yaml in testdata
	}{
		{name: "the defaults exempt kube-system and the release namespace", release: "sw", fullname: "sw-setwarden",
			want: "policyconfig-defaults.yaml"},
		{name: "every value set", release: "everything", fullname: "policy-warden", args: []string{"-f", chartEverything},
			want: "policyconfig-everything.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cm := &corev1.ConfigMap{}
			chartDecode(t, chartObjects(t, chartTemplate(t, tc.release, chartNamespace, tc.args...)), "ConfigMap", tc.fullname+"-config", cm)
			got := cm.Data["config.yaml"]
			golden := filepath.Join("testdata", tc.want)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(chartTestdata(t, tc.want), got); diff != "" {
				t.Errorf("config.yaml (-want +got):\n%s", diff)
			}
			if _, err := policies.ParseConfig([]byte(got)); err != nil {
				t.Errorf("the server would refuse the chart's PolicyConfig: %v", err)
			}
		})
	}
}

// TestChartPassesItsOwnPolicies runs `setwarden check` over the rendered
// chart: setwarden's own Deployment must draw no Deny and no Warn.
func TestChartPassesItsOwnPolicies(t *testing.T) {
	// The Nodes stand for a cluster in `setwarden check`, so the rules that
	// need Nodes run too: two workers in two zones.
	nodes := "\n---\n" + chartTestdata(t, "nodes-two-zones.yaml")
	cases := map[string][]string{"the defaults": nil, "every value set": {"-f", chartEverything}}
	for _, mode := range chartTLSModes {
		cases["tls.mode "+mode] = chartModeArgs(mode)
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			rendered := chartTemplate(t, "everything", chartNamespace, args...)
			var stdout, stderr bytes.Buffer
			code := app.Run(t.Context(), []string{"check", "-o", "json", "-f", "-"}, strings.NewReader(rendered+nodes), &stdout, &stderr)
			var rep struct {
				Results []struct{ Rule, Action, Field, Message string } `json:"results"`
				Summary struct {
					Evaluated int            `json:"evaluated"`
					Exempted  map[string]int `json:"exempted"`
					Skipped   []any          `json:"skipped"`
				} `json:"summary"`
				Errors []any `json:"errors"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("setwarden check exited %d with no JSON report: %v\n%s%s", code, err, stdout.String(), stderr.String())
			}
			if code != app.ExitOK || len(rep.Errors) > 0 {
				t.Errorf("setwarden check exited %d with input errors %v:\n%s", code, rep.Errors, stderr.String())
			}
			for _, r := range rep.Results {
				if r.Action == string(policies.ActionDeny) || r.Action == string(policies.ActionWarn) {
					t.Errorf("%s %s: %s: %s", r.Action, r.Rule, r.Field, r.Message)
				}
			}
			// The check must really have looked: one Deployment, not exempt, every rule run.
			if rep.Summary.Evaluated != 1 || len(rep.Summary.Exempted) > 0 || len(rep.Summary.Skipped) > 0 {
				t.Errorf("evaluated %d, exempted %v, skipped %v; want the Deployment evaluated by every rule",
					rep.Summary.Evaluated, rep.Summary.Exempted, rep.Summary.Skipped)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the rendered chart")

// chartTestdata returns the contents of testdata/name.
func chartTestdata(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
