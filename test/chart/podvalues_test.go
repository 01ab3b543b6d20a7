package chart

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/utils/ptr"
)

// TestChartPodValues checks the values that shape the server's pod as
// Kyverno's and Gatekeeper's charts let users shape theirs: host network,
// security contexts, extra environment and volumes, labels, the revision
// history and the grace period derived from the shutdown settings.
func TestChartPodValues(t *testing.T) {
	restrictedPod := &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
		RunAsGroup: ptr.To[int64](65532), FSGroup: ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	restrictedContainer := &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
		RunAsNonRoot: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	chartMounts := []corev1.VolumeMount{{Name: "config", MountPath: "/etc/setwarden", ReadOnly: true},
		{Name: "certs", MountPath: "/var/run/setwarden/certs"}}
	cases := []struct {
		name, fullname string
		args           []string
		// want checks the rendered Deployment; the zero values of the
		// defaults case are what every other case leaves alone.
		hostNetwork        bool
		dnsPolicy          corev1.DNSPolicy
		podSecurity        *corev1.PodSecurityContext
		containerSecurity  *corev1.SecurityContext
		grace              int64
		revisionHistory    int32
		extraEnv           []corev1.EnvVar
		volumeMounts       []corev1.VolumeMount
		extraVolumes       []corev1.Volume
		podLabels          map[string]string
		serviceAccountName string
	}{
		{name: "the defaults are restricted, keep 10 revisions and wait 30s+5s+10s", fullname: "sw-setwarden",
			podSecurity: restrictedPod, containerSecurity: restrictedContainer, grace: 45, revisionHistory: 10,
			volumeMounts: chartMounts, serviceAccountName: "sw-setwarden"},
		{name: "the grace period follows the shutdown timeout and the preStop sleep", fullname: "sw-setwarden",
			args:        []string{"--set", "gracefulShutdownTimeout=1m30.5s", "--set", "preStopSleepSeconds=20"},
			podSecurity: restrictedPod, containerSecurity: restrictedContainer, grace: 91 + 20 + 10, revisionHistory: 10,
			volumeMounts: chartMounts, serviceAccountName: "sw-setwarden"},
		{name: "a grace period that is set wins", fullname: "sw-setwarden",
			args:        []string{"--set", "terminationGracePeriodSeconds=300"},
			podSecurity: restrictedPod, containerSecurity: restrictedContainer, grace: 300, revisionHistory: 10,
			volumeMounts: chartMounts, serviceAccountName: "sw-setwarden"},
		{name: "security contexts merge key by key, and null drops a key", fullname: "sw-setwarden",
			args: []string{"--set", "podSecurityContext.fsGroup=2000", "--set", "podSecurityContext.runAsGroup=null",
				"--set", "containerSecurityContext.readOnlyRootFilesystem=false"},
			podSecurity: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
				FSGroup: ptr.To[int64](2000), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			containerSecurity: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(false),
				RunAsNonRoot: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			grace: 45, revisionHistory: 10, volumeMounts: chartMounts, serviceAccountName: "sw-setwarden"},
		{name: "an existing ServiceAccount is used by name", fullname: "sw-setwarden",
			args:        []string{"--set", "serviceAccount.create=false", "--set", "serviceAccount.name=platform-webhooks"},
			podSecurity: restrictedPod, containerSecurity: restrictedContainer, grace: 45, revisionHistory: 10,
			volumeMounts: chartMounts, serviceAccountName: "platform-webhooks"},
		{name: "every value set", fullname: "policy-warden", args: []string{"-f", chartEverything},
			hostNetwork: true, dnsPolicy: corev1.DNSClusterFirstWithHostNet,
			podSecurity: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
				RunAsGroup: ptr.To[int64](65532), FSGroup: ptr.To[int64](2000), SupplementalGroups: []int64{2000},
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			containerSecurity: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65533), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			grace: 60, revisionHistory: 3,
			extraEnv: []corev1.EnvVar{{Name: "HTTPS_PROXY", Value: "http://proxy.example.com:3128"},
				{Name: "TEAM", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['team']"}}}},
			volumeMounts: append(slices.Clone(chartMounts), corev1.VolumeMount{Name: "extra-ca", MountPath: "/etc/ssl/corporate", ReadOnly: true}),
			extraVolumes: []corev1.Volume{{Name: "extra-ca", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "corporate-ca"}}}}},
			podLabels:          map[string]string{"team": "platform"},
			serviceAccountName: "warden-server"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, tc.args...))
			d := &appsv1.Deployment{}
			chartDecode(t, objs, "Deployment", tc.fullname, d)
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			if pod.HostNetwork != tc.hostNetwork || pod.DNSPolicy != tc.dnsPolicy {
				t.Errorf("hostNetwork %v dnsPolicy %q, want %v %q", pod.HostNetwork, pod.DNSPolicy, tc.hostNetwork, tc.dnsPolicy)
			}
			if diff := cmp.Diff(tc.podSecurity, pod.SecurityContext); diff != "" {
				t.Errorf("pod securityContext (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.containerSecurity, c.SecurityContext); diff != "" {
				t.Errorf("container securityContext (-want +got):\n%s", diff)
			}
			if got := ptr.Deref(pod.TerminationGracePeriodSeconds, -1); got != tc.grace {
				t.Errorf("terminationGracePeriodSeconds = %d, want %d", got, tc.grace)
			}
			if got := ptr.Deref(d.Spec.RevisionHistoryLimit, -1); got != tc.revisionHistory {
				t.Errorf("revisionHistoryLimit = %d, want %d", got, tc.revisionHistory)
			}
			// The chart's own variables come first (GOMEMLIMIT, then the pod's name and namespace in self-managed mode).
			if diff := cmp.Diff(tc.extraEnv, c.Env[3:], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("extra env after the chart's own (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.volumeMounts, c.VolumeMounts); diff != "" {
				t.Errorf("volumeMounts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.extraVolumes, pod.Volumes[2:], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("extra volumes after config and certs (-want +got):\n%s", diff)
			}
			for k, v := range tc.podLabels {
				if d.Spec.Template.Labels[k] != v {
					t.Errorf("pod labels %v have no %s=%s", d.Spec.Template.Labels, k, v)
				}
			}
			if pod.ServiceAccountName != tc.serviceAccountName {
				t.Errorf("serviceAccountName = %q, want %q", pod.ServiceAccountName, tc.serviceAccountName)
			}
		})
	}
}

// TestChartServiceAccountValues checks that the chart creates the
// ServiceAccount it names, or none with serviceAccount.create=false, and
// binds its roles to the account the pods run as either way.
func TestChartServiceAccountValues(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		account string
		created bool
	}{
		{name: "the chart's own account by default", account: "sw-setwarden", created: true},
		{name: "a name of one's choosing", args: []string{"--set", "serviceAccount.name=warden"}, account: "warden", created: true},
		{name: "an existing account", args: []string{"--set", "serviceAccount.create=false", "--set", "serviceAccount.name=platform-webhooks"},
			account: "platform-webhooks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, tc.args...))
			var accounts []string
			for _, o := range objs {
				if o.Kind == "ServiceAccount" && o.Source == "setwarden/templates/serviceaccount.yaml" {
					accounts = append(accounts, o.Name)
				}
			}
			if want := []string{tc.account}; tc.created != cmp.Equal(want, accounts) || (!tc.created && len(accounts) > 0) {
				t.Errorf("ServiceAccounts rendered: %v; want %s created: %v", accounts, tc.account, tc.created)
			}
			want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: tc.account, Namespace: chartNamespace}}
			for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
				for _, name := range []string{"sw-setwarden", "sw-setwarden-tls"} {
					if kind == "RoleBinding" && name == "sw-setwarden" {
						continue
					}
					var subjects []rbacv1.Subject
					if kind == "RoleBinding" {
						b := &rbacv1.RoleBinding{}
						chartDecode(t, objs, kind, name, b)
						subjects = b.Subjects
					} else {
						b := &rbacv1.ClusterRoleBinding{}
						chartDecode(t, objs, kind, name, b)
						subjects = b.Subjects
					}
					if diff := cmp.Diff(want, subjects); diff != "" {
						t.Errorf("%s %s subjects (-want +got):\n%s", kind, name, diff)
					}
				}
			}
		})
	}
}

// TestChartRendersTheSameEveryTime renders each TLS mode twice: a GitOps
// tool diffs the render against the cluster on every sync, so nothing may
// change between two renders of the same values (no generated certificate,
// random suffix or timestamp).
func TestChartRendersTheSameEveryTime(t *testing.T) {
	for _, mode := range chartTLSModes {
		t.Run("tls.mode "+mode, func(t *testing.T) {
			args := append([]string{"-f", chartEverything}, chartModeArgs(mode)...)
			first := chartTemplate(t, "sw", chartNamespace, args...)
			if second := chartTemplate(t, "sw", chartNamespace, args...); first != second {
				t.Errorf("two renders differ:\n%s", cmp.Diff(first, second))
			}
		})
	}
}
