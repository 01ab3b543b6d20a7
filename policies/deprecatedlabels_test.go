package policies

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestNodeAffinityDeprecatedLabel(t *testing.T) {
	const (
		betaZone   = "failure-domain.beta.kubernetes.io/zone"
		stableZone = "topology.kubernetes.io/zone"
	)
	use := func(stable string) string {
		return "deprecated node label, which newer nodes may lack: use " + stable + " instead"
	}
	podAffinityTerm := func(topologyKey string) corev1.PodAffinityTerm {
		return corev1.PodAffinityTerm{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			TopologyKey:   topologyKey,
		}
	}
	tests := []checkCase{
		{
			name: "a deprecated nodeSelector key is reported at the key",
			obj:  naDeployment(map[string]string{"beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}, nil),
			want: field.ErrorList{naInvalid(naSelector+"[beta.kubernetes.io/os]", "beta.kubernetes.io/os", use("kubernetes.io/os"))},
		},
		{
			name: "a nodeSelector with both the deprecated and the stable key is reported, since both must hold",
			obj:  naDeployment(map[string]string{"beta.kubernetes.io/arch": "amd64", "kubernetes.io/arch": "amd64"}, nil),
			want: field.ErrorList{naInvalid(naSelector+"[beta.kubernetes.io/arch]", "beta.kubernetes.io/arch", use("kubernetes.io/arch"))},
		},
		{
			name: "a deprecated required node affinity key is reported",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("kubernetes.io/os", "In", "linux"), nodeReq(betaZone, "In", "a")))),
			want: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[1].key", betaZone, use(stableZone))},
		},
		{
			name: "the master role label names control-plane as its replacement",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("node-role.kubernetes.io/master", "DoesNotExist")))),
			want: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[0].key", "node-role.kubernetes.io/master", use("node-role.kubernetes.io/control-plane"))},
		},
		{
			name: "deprecated and stable keys ANDed in one term are reported",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq(betaZone, "In", "a"), nodeReq(stableZone, "In", "a")))),
			want: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[0].key", betaZone, use(stableZone))},
		},
		{
			name: "a deprecated preferred node affinity key is reported",
			obj:  naDeployment(nil, naPreferredAffinity(naTerm(nodeReq("beta.kubernetes.io/instance-type", "In", "m5.large")))),
			want: field.ErrorList{naInvalid(naPreferred+"[0].preference.matchExpressions[0].key", "beta.kubernetes.io/instance-type", use("node.kubernetes.io/instance-type"))},
		},
		{
			name: "a deprecated preferred pod anti-affinity topologyKey is reported (loki-distributed)",
			obj: naDeployment(nil, &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
					{Weight: 100, PodAffinityTerm: podAffinityTerm("kubernetes.io/hostname")},
					{Weight: 100, PodAffinityTerm: podAffinityTerm(betaZone)},
				}}}),
			want: field.ErrorList{naInvalid("spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[1].podAffinityTerm.topologyKey", betaZone, use(stableZone))},
		},
		{
			name: "a deprecated required pod affinity topologyKey is reported",
			obj: naDeployment(nil, &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{podAffinityTerm("failure-domain.beta.kubernetes.io/region")},
			}}),
			want: field.ErrorList{naInvalid("spec.template.spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
				"failure-domain.beta.kubernetes.io/region", use("topology.kubernetes.io/region"))},
		},
		{
			name: "a deprecated topologySpreadConstraints topologyKey is reported",
			obj: deploymentWith(3, corev1.PodSpec{TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: stableZone, WhenUnsatisfiable: corev1.DoNotSchedule},
				{MaxSkew: 1, TopologyKey: betaZone, WhenUnsatisfiable: corev1.ScheduleAnyway},
			}}),
			want: field.ErrorList{naInvalid("spec.template.spec.topologySpreadConstraints[1].topologyKey", betaZone, use(stableZone))},
		},
		{
			name: "a CronJob reports under its job template",
			obj:  naCronJob(map[string]string{"beta.kubernetes.io/os": "linux"}, nil),
			want: field.ErrorList{naInvalid("spec.jobTemplate.spec.template.spec.nodeSelector[beta.kubernetes.io/os]", "beta.kubernetes.io/os", use("kubernetes.io/os"))},
		},
		{
			name: "a deprecated required term paired with a stable alternative term is a deliberate fallback",
			obj: naDeployment(nil, naAffinity(
				naTerm(nodeReq("kubernetes.io/arch", "In", "amd64")),
				naTerm(nodeReq("beta.kubernetes.io/arch", "In", "amd64")))),
		},
		{
			name: "a deprecated preferred term paired with a stable preferred term is a deliberate fallback",
			obj: naDeployment(nil, naPreferredAffinity(
				naTerm(nodeReq(betaZone, "In", "a")),
				naTerm(nodeReq(stableZone, "In", "a")))),
		},
		{
			name: "stable labels everywhere are fine",
			obj: naDeployment(map[string]string{"kubernetes.io/os": "linux"}, &corev1.Affinity{
				NodeAffinity: naAffinity(naTerm(nodeReq("node-role.kubernetes.io/control-plane", "DoesNotExist"))).NodeAffinity,
				PodAntiAffinity: &corev1.PodAntiAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{podAffinityTerm(stableZone)},
				},
			}),
		},
		{
			name: "a toleration for the master taint is not placement",
			obj: deploymentWith(1, corev1.PodSpec{Tolerations: []corev1.Toleration{
				{Key: "node-role.kubernetes.io/master", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
			}}),
		},
	}
	runCheckCases(t, checkAffinityDeprecatedLabel, tests)
}
