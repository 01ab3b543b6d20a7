package policies

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The API server's messages, spelled out so that a change of wording in
// apimachinery or a helper used by mistake shows up here.
const (
	apivalKeyNameRegexMsg = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character" +
		" (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
	apivalValueRegexMsg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character" +
		" (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
	apivalSubdomainRegexMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character" +
		" (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	apivalDNSLabelRegexMsg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character" +
		" (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)

var (
	apivalAffinity    = field.NewPath("spec", "template", "spec", "affinity")
	apivalRequired    = apivalAffinity.Child("nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	apivalExpr0       = apivalRequired.Index(0).Child("matchExpressions").Index(0)
	apivalField0      = apivalRequired.Index(0).Child("matchFields").Index(0)
	apivalPreferred   = apivalAffinity.Child("nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
	apivalPodTerm0    = apivalAffinity.Child("podAffinity", "requiredDuringSchedulingIgnoredDuringExecution").Index(0)
	apivalAntiPref0   = apivalAffinity.Child("podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution").Index(0)
	apivalTolerations = field.NewPath("spec", "template", "spec", "tolerations")
)

// apivalRequiredNode returns affinity with one required node selector term
// holding the given expressions.
func apivalRequiredNode(exprs ...corev1.NodeSelectorRequirement) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: exprs}},
		},
	}}
}

// apivalRequiredFields returns affinity with one required node selector term
// holding the given matchFields.
func apivalRequiredFields(fields ...corev1.NodeSelectorRequirement) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: fields}},
		},
	}}
}

// apivalPreferredWeight returns affinity with one valid preferred node term
// of the given weight.
func apivalPreferredWeight(weight int32) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
			Weight: weight,
			Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}},
			}},
		}},
	}}
}

// apivalPodAffinity returns affinity with one required pod affinity term.
func apivalPodAffinity(term corev1.PodAffinityTerm) *corev1.Affinity {
	return &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term},
	}}
}

// apivalSelector returns a selector on app=web.
func apivalSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

// apivalSeconds returns a pointer to a tolerationSeconds value.
func apivalSeconds(s int64) *int64 { return &s }

func TestAPIValidationNodeAffinity(t *testing.T) {
	values := apivalExpr0.Child("values")
	long63, long64 := strings.Repeat("a", 63), strings.Repeat("a", 64)
	prefix253 := strings.Repeat("a", 61) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63)
	cases := []struct {
		name     string
		affinity *corev1.Affinity
		want     field.ErrorList
	}{
		{name: "No affinity is valid"},
		{name: "An empty node affinity is valid", affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}}},
		{name: "In without values requires values",
			affinity: apivalRequiredNode(nodeReq("zone", corev1.NodeSelectorOpIn)),
			want:     field.ErrorList{field.Required(values, "must be specified when `operator` is 'In' or 'NotIn'")}},
		{name: "NotIn without values requires values",
			affinity: apivalRequiredNode(nodeReq("zone", corev1.NodeSelectorOpNotIn)),
			want:     field.ErrorList{field.Required(values, "must be specified when `operator` is 'In' or 'NotIn'")}},
		{name: "Exists with values forbids them",
			affinity: apivalRequiredNode(nodeReq("zone", corev1.NodeSelectorOpExists, "a")),
			want:     field.ErrorList{field.Forbidden(values, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")}},
		{name: "DoesNotExist with values forbids them",
			affinity: apivalRequiredNode(nodeReq("zone", corev1.NodeSelectorOpDoesNotExist, "a", "b")),
			want:     field.ErrorList{field.Forbidden(values, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")}},
		{name: "Gt with two values needs a single value",
			affinity: apivalRequiredNode(nodeReq("cpus", corev1.NodeSelectorOpGt, "1", "2")),
			want:     field.ErrorList{field.Required(values, "must be specified single value when `operator` is 'Lt' or 'Gt'")}},
		{name: "Lt without values needs a single value",
			affinity: apivalRequiredNode(nodeReq("cpus", corev1.NodeSelectorOpLt)),
			want:     field.ErrorList{field.Required(values, "must be specified single value when `operator` is 'Lt' or 'Gt'")}},
		{name: "Gt with one integer value is valid",
			affinity: apivalRequiredNode(nodeReq("cpus", corev1.NodeSelectorOpGt, "4"))},
		{name: "Lt with a non-integer value is accepted because the API server does not parse it",
			affinity: apivalRequiredNode(nodeReq("cpus", corev1.NodeSelectorOpLt, "four"))},
		{name: "An unknown operator is invalid",
			affinity: apivalRequiredNode(nodeReq("zone", "Equals", "a")),
			want:     field.ErrorList{field.Invalid(apivalExpr0.Child("operator"), corev1.NodeSelectorOperator("Equals"), "not a valid selector operator")}},
		{name: "Required node affinity without terms needs one term and reports nothing else",
			affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution:  &corev1.NodeSelector{},
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 0}},
			}},
			want: field.ErrorList{
				field.Required(apivalRequired, "must have at least one node selector term"),
				field.Invalid(apivalPreferred.Index(0).Child("weight"), int32(0), "must be in the range 1-100"),
			}},
		{name: "A key whose name part has 63 characters is valid",
			affinity: apivalRequiredNode(nodeReq(long63, corev1.NodeSelectorOpExists))},
		{name: "A key whose name part has 64 characters is invalid",
			affinity: apivalRequiredNode(nodeReq(long64, corev1.NodeSelectorOpExists)),
			want:     field.ErrorList{field.Invalid(apivalExpr0.Child("key"), long64, "name part must be no more than 63 bytes")}},
		{name: "A key whose prefix has 253 characters is valid",
			affinity: apivalRequiredNode(nodeReq(prefix253+"/zone", corev1.NodeSelectorOpExists))},
		{name: "A key whose prefix has 254 characters is invalid",
			affinity: apivalRequiredNode(nodeReq("e"+prefix253+"/zone", corev1.NodeSelectorOpExists)),
			want: field.ErrorList{field.Invalid(apivalExpr0.Child("key"), "e"+prefix253+"/zone",
				"prefix part must be no more than 253 bytes")}},
		{name: "A key with an empty prefix is invalid",
			affinity: apivalRequiredNode(nodeReq("/zone", corev1.NodeSelectorOpExists)),
			want:     field.ErrorList{field.Invalid(apivalExpr0.Child("key"), "/zone", "prefix part must be non-empty")}},
		{name: "A key starting with a dash is invalid",
			affinity: apivalRequiredNode(nodeReq("-zone", corev1.NodeSelectorOpExists)),
			want:     field.ErrorList{field.Invalid(apivalExpr0.Child("key"), "-zone", apivalKeyNameRegexMsg)}},
		{name: "A required value of 63 characters is valid",
			affinity: apivalRequiredNode(nodeReq("zone", corev1.NodeSelectorOpIn, long63))},
		{name: "A required value of 64 characters is invalid",
			affinity: apivalRequiredNode(nodeReq("zone", corev1.NodeSelectorOpIn, "a", long64)),
			want:     field.ErrorList{field.Invalid(values.Index(1), long64, "must be no more than 63 bytes")}},
		{name: "A required value with a space is invalid",
			affinity: apivalRequiredNode(nodeReq("zone", corev1.NodeSelectorOpNotIn, "eu west")),
			want:     field.ErrorList{field.Invalid(values.Index(0), "eu west", apivalValueRegexMsg)}},
		{name: "An invalid value in a preferred term is accepted as the API server does",
			affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 1,
					Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{nodeReq("zone", corev1.NodeSelectorOpIn, "eu west")}}}},
			}}},
		{name: "Operator, key and value errors of one requirement come in the API server's order",
			affinity: apivalRequiredNode(nodeReq("-zone", "Has", "eu west")),
			want: field.ErrorList{
				field.Invalid(apivalExpr0.Child("operator"), corev1.NodeSelectorOperator("Has"), "not a valid selector operator"),
				field.Invalid(apivalExpr0.Child("key"), "-zone", apivalKeyNameRegexMsg),
				field.Invalid(values.Index(0), "eu west", apivalValueRegexMsg),
			}},
		{name: "A preferred term with weight 0 is out of range",
			affinity: apivalPreferredWeight(0),
			want:     field.ErrorList{field.Invalid(apivalPreferred.Index(0).Child("weight"), int32(0), "must be in the range 1-100")}},
		{name: "A preferred term with weight -1 is out of range",
			affinity: apivalPreferredWeight(-1),
			want:     field.ErrorList{field.Invalid(apivalPreferred.Index(0).Child("weight"), int32(-1), "must be in the range 1-100")}},
		{name: "A preferred term with weight 101 is out of range",
			affinity: apivalPreferredWeight(101),
			want:     field.ErrorList{field.Invalid(apivalPreferred.Index(0).Child("weight"), int32(101), "must be in the range 1-100")}},
		{name: "A preferred term with weight 1 is valid", affinity: apivalPreferredWeight(1)},
		{name: "A preferred term with weight 100 is valid", affinity: apivalPreferredWeight(100)},
		{name: "matchFields on metadata.name with In and one value is valid",
			affinity: apivalRequiredFields(nodeReq("metadata.name", corev1.NodeSelectorOpIn, "node-1"))},
		{name: "matchFields on metadata.name with NotIn and one value is valid",
			affinity: apivalRequiredFields(nodeReq("metadata.name", corev1.NodeSelectorOpNotIn, "node-1"))},
		{name: "matchFields on metadata.name with In and two values needs exactly one",
			affinity: apivalRequiredFields(nodeReq("metadata.name", corev1.NodeSelectorOpIn, "node-1", "node-2")),
			want: field.ErrorList{field.Required(apivalField0.Child("values"),
				"must be only one value when `operator` is 'In' or 'NotIn' for node field selector")}},
		{name: "matchFields on metadata.name with NotIn and no value needs exactly one",
			affinity: apivalRequiredFields(nodeReq("metadata.name", corev1.NodeSelectorOpNotIn)),
			want: field.ErrorList{field.Required(apivalField0.Child("values"),
				"must be only one value when `operator` is 'In' or 'NotIn' for node field selector")}},
		{name: "matchFields with Exists is not a valid field selector operator",
			affinity: apivalRequiredFields(nodeReq("metadata.name", corev1.NodeSelectorOpExists)),
			want: field.ErrorList{field.Invalid(apivalField0.Child("operator"), corev1.NodeSelectorOpExists,
				"not a valid selector operator")}},
		{name: "matchFields on a field other than metadata.name is invalid",
			affinity: apivalRequiredFields(nodeReq("metadata.labels", corev1.NodeSelectorOpIn, "x")),
			want:     field.ErrorList{field.Invalid(apivalField0.Child("key"), "metadata.labels", "not a valid field selector key")}},
		{name: "matchFields on metadata.name with a value that is not a node name is invalid",
			affinity: apivalRequiredFields(nodeReq("metadata.name", corev1.NodeSelectorOpIn, "Node_1")),
			want:     field.ErrorList{field.Invalid(apivalField0.Child("values").Index(0), "Node_1", apivalSubdomainRegexMsg)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := inputFor(t, deploymentWith(2, corev1.PodSpec{Affinity: tc.affinity}))
			assertErrors(t, checkAffinityInvalid(in), tc.want)
		})
	}
}

func TestAPIValidationPodAffinity(t *testing.T) {
	topo := apivalPodTerm0.Child("topologyKey")
	selector := apivalPodTerm0.Child("labelSelector")
	cases := []struct {
		name     string
		affinity *corev1.Affinity
		want     field.ErrorList
	}{
		{name: "A term with a selector and a topologyKey is valid",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: corev1.LabelTopologyZone})},
		{name: "An empty topologyKey is required and not a valid label name",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{LabelSelector: apivalSelector()}),
			want: field.ErrorList{
				field.Required(topo, "can not be empty"),
				field.Invalid(topo, "", "name part must be non-empty"),
				field.Invalid(topo, "", apivalKeyNameRegexMsg),
			}},
		{name: "A topologyKey with an empty name part is invalid",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "topology.kubernetes.io/"}),
			want: field.ErrorList{
				field.Invalid(topo, "topology.kubernetes.io/", "name part must be non-empty"),
				field.Invalid(topo, "topology.kubernetes.io/", apivalKeyNameRegexMsg),
			}},
		{name: "Label selector errors come in sorted matchLabels order, then matchExpressions",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"z-ok": "bad value", "-a": "ok"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "app", Operator: metav1.LabelSelectorOpIn},
					{Key: "tier", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}},
				},
			}}),
			want: field.ErrorList{
				field.Invalid(selector.Child("matchLabels"), "-a", apivalKeyNameRegexMsg),
				field.Invalid(selector.Child("matchLabels"), "bad value", apivalValueRegexMsg),
				field.Required(selector.Child("matchExpressions").Index(0).Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"),
				field.Forbidden(selector.Child("matchExpressions").Index(1).Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
			}},
		{name: "A namespaceSelector with an unknown operator is invalid",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "zone",
				NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Equals", Values: []string{"a"}}}}}),
			want: field.ErrorList{field.Invalid(apivalPodTerm0.Child("namespaceSelector", "matchExpressions").Index(0).Child("operator"),
				metav1.LabelSelectorOperator("Equals"), "not a valid selector operator")}},
		{name: "An invalid namespace is reported at namespace without an index, as the API server does",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "zone", Namespaces: []string{"ok", "Team_A"}}),
			want:     field.ErrorList{field.Invalid(apivalPodTerm0.Child("namespace"), "Team_A", apivalDNSLabelRegexMsg)}},
		{name: "matchLabelKeys without labelSelector is forbidden",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{TopologyKey: "zone", MatchLabelKeys: []string{"pod-template-hash"}}),
			want:     field.ErrorList{field.Forbidden(apivalPodTerm0.Child("matchLabelKeys"), "must not be specified when labelSelector is not set")}},
		{name: "mismatchLabelKeys without labelSelector is forbidden",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{TopologyKey: "zone", MismatchLabelKeys: []string{"tenant"}}),
			want:     field.ErrorList{field.Forbidden(apivalPodTerm0.Child("mismatchLabelKeys"), "must not be specified when labelSelector is not set")}},
		{name: "An invalid key in matchLabelKeys or mismatchLabelKeys is invalid",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "zone",
				MatchLabelKeys: []string{"ok", "-bad"}, MismatchLabelKeys: []string{"bad-"}}),
			want: field.ErrorList{
				field.Invalid(apivalPodTerm0.Child("matchLabelKeys").Index(1), "-bad", apivalKeyNameRegexMsg),
				field.Invalid(apivalPodTerm0.Child("mismatchLabelKeys").Index(0), "bad-", apivalKeyNameRegexMsg),
			}},
		{name: "A key in both matchLabelKeys and mismatchLabelKeys is invalid",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "zone",
				MatchLabelKeys: []string{"pod-template-hash", "tenant"}, MismatchLabelKeys: []string{"tenant"}}),
			want: field.ErrorList{field.Invalid(apivalPodTerm0.Child("matchLabelKeys").Index(1), "tenant", "exists in both matchLabelKeys and mismatchLabelKeys")}},
		{name: "A matchLabelKeys key twice in the labelSelector is reported at the term's index, as the API server does",
			affinity: apivalPodAffinity(corev1.PodAffinityTerm{TopologyKey: "zone", MatchLabelKeys: []string{"tier", "app"},
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"},
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}}),
			want: field.ErrorList{field.Invalid(apivalPodTerm0.Index(1), "app", "exists in both matchLabelKeys and labelSelector")}},
		{name: "A preferred anti-affinity term with weight 0 and no topologyKey reports both in order",
			affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 0,
					PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: apivalSelector()}}},
			}},
			want: field.ErrorList{
				field.Invalid(apivalAntiPref0.Child("weight"), int32(0), "must be in the range 1-100"),
				field.Required(apivalAntiPref0.Child("podAffinityTerm", "topologyKey"), "can not be empty"),
				field.Invalid(apivalAntiPref0.Child("podAffinityTerm", "topologyKey"), "", "name part must be non-empty"),
				field.Invalid(apivalAntiPref0.Child("podAffinityTerm", "topologyKey"), "", apivalKeyNameRegexMsg),
			}},
		{name: "A preferred anti-affinity term with weight 101 is out of range",
			affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 101,
					PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "zone"}}},
			}},
			want: field.ErrorList{field.Invalid(apivalAntiPref0.Child("weight"), int32(101), "must be in the range 1-100")}},
		{name: "A required anti-affinity term with an invalid selector value is invalid",
			affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "zone",
					LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web/v1"}}}}}},
			}},
			want: field.ErrorList{field.Invalid(apivalAffinity.Child("podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution").Index(0).
				Child("labelSelector", "matchExpressions").Index(0).Child("values").Index(0), "web/v1", apivalValueRegexMsg)}},
		// Found by test/fidelity: kube-apiserver reports a repeated error once.
		{name: "A matchLabelKeys key in matchLabels and twice in matchExpressions is reported once, as the API server does",
			affinity: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "zone", MatchLabelKeys: []string{"app"},
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"a"}},
						{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"b"}}}}}},
			}},
			want: field.ErrorList{field.Invalid(apivalPodTerm0.Index(0), "app", "exists in both matchLabelKeys and labelSelector")}},
		{name: "Two invalid namespaces at the same path are both reported, as their values differ",
			affinity: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "zone", Namespaces: []string{"Bad_NS", "-ns"},
					LabelSelector: &metav1.LabelSelector{}}},
			}},
			want: field.ErrorList{
				field.Invalid(apivalPodTerm0.Child("namespace"), "Bad_NS", apivalDNSLabelRegexMsg),
				field.Invalid(apivalPodTerm0.Child("namespace"), "-ns", apivalDNSLabelRegexMsg),
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := inputFor(t, deploymentWith(2, corev1.PodSpec{Affinity: tc.affinity}))
			assertErrors(t, checkAffinityInvalid(in), tc.want)
		})
	}
}

// TestAPIValidationPodMergesMatchLabelKeys covers the Pod strategy merging
// matchLabelKeys into the labelSelector before validation.
func TestAPIValidationPodMergesMatchLabelKeys(t *testing.T) {
	term := corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "zone", MatchLabelKeys: []string{"app"}}
	cases := []struct {
		name   string
		labels map[string]string
		want   field.ErrorList
	}{
		{name: "A Pod labelled with a matchLabelKeys key already in the selector is rejected",
			labels: map[string]string{"app": "web"},
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "affinity", "podAffinity", "requiredDuringSchedulingIgnoredDuringExecution").Index(0).Index(0),
				"app", "exists in both matchLabelKeys and labelSelector")}},
		{name: "A Pod without the matchLabelKeys label is accepted, as nothing is merged",
			labels: map[string]string{"tier": "web"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "apps", Labels: tc.labels},
				Spec:       corev1.PodSpec{Affinity: apivalPodAffinity(term)},
			}
			in := inputFor(t, pod)
			assertErrors(t, checkAffinityInvalid(in), tc.want)
			if n := len(pod.Spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector.MatchExpressions); n != 0 {
				t.Errorf("the check modified the Pod's labelSelector: %d matchExpressions", n)
			}
		})
	}
}

func TestAPIValidationTolerations(t *testing.T) {
	tol0 := apivalTolerations.Index(0)
	long64 := strings.Repeat("a", 63) + "-"
	cases := []struct {
		name        string
		tolerations []corev1.Toleration
		want        field.ErrorList
	}{
		{name: "An empty key with operator Exists tolerates everything and is valid",
			tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		{name: "A key with Equal, a value and NoExecute seconds is valid",
			tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db",
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: apivalSeconds(30)}}},
		{name: "An empty key with Equal is invalid",
			tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpEqual}},
			want: field.ErrorList{field.Invalid(tol0.Child("operator"), corev1.TolerationOpEqual,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\"")}},
		{name: "An empty key with an empty operator is invalid",
			tolerations: []corev1.Toleration{{Effect: corev1.TaintEffectNoSchedule}},
			want: field.ErrorList{field.Invalid(tol0.Child("operator"), corev1.TolerationOperator(""),
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\"")}},
		{name: "Exists with a value is invalid",
			tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists, Value: "db"}},
			want:        field.ErrorList{field.Invalid(tol0.Child("operator"), "db", "value must be empty when `operator` is 'Exists'")}},
		{name: "tolerationSeconds with NoSchedule is invalid",
			tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: apivalSeconds(60)}},
			want: field.ErrorList{field.Invalid(tol0.Child("effect"), corev1.TaintEffectNoSchedule,
				"effect must be 'NoExecute' when `tolerationSeconds` is set")}},
		{name: "tolerationSeconds with no effect is invalid",
			tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, TolerationSeconds: apivalSeconds(60)}},
			want: field.ErrorList{field.Invalid(tol0.Child("effect"), corev1.TaintEffect(""),
				"effect must be 'NoExecute' when `tolerationSeconds` is set")}},
		{name: "An unknown operator is not supported",
			tolerations: []corev1.Toleration{{Key: "k", Operator: "In", Value: "v"}},
			want: field.ErrorList{field.NotSupported(tol0.Child("operator"), corev1.TolerationOperator("In"),
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists})}},
		{name: "Gt with an integer value is not supported while the comparison operators gate is off",
			tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpGt, Value: "5"}},
			want: field.ErrorList{field.NotSupported(tol0.Child("operator"), corev1.TolerationOpGt,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists, corev1.TolerationOpLt, corev1.TolerationOpGt})}},
		{name: "An unknown effect is not supported",
			tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: "NoScheduleNoAdmit"}},
			want: field.ErrorList{field.NotSupported(tol0.Child("effect"), corev1.TaintEffect("NoScheduleNoAdmit"),
				[]corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute})}},
		{name: "An invalid key is invalid",
			tolerations: []corev1.Toleration{{Key: "node-role.kubernetes.io/-control", Operator: corev1.TolerationOpExists}},
			want:        field.ErrorList{field.Invalid(tol0.Child("key"), "node-role.kubernetes.io/-control", apivalKeyNameRegexMsg)}},
		{name: "An invalid value under Equal is reported at operator",
			tolerations: []corev1.Toleration{{Key: "k", Value: "a b"}},
			want:        field.ErrorList{field.Invalid(tol0.Child("operator"), "a b", apivalValueRegexMsg)}},
		{name: "A value of 63 characters under Equal is valid",
			tolerations: []corev1.Toleration{{Key: "k", Value: strings.Repeat("a", 63)}}},
		{name: "A long value ending in a dash joins both messages with a semicolon",
			tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpEqual, Value: long64}},
			want:        field.ErrorList{field.Invalid(tol0.Child("operator"), long64, "must be no more than 63 bytes;"+apivalValueRegexMsg)}},
		{name: "Errors of one toleration come in the API server's order, and each toleration has its index",
			tolerations: []corev1.Toleration{
				{Operator: corev1.TolerationOpExists},
				{Key: "-k", Operator: corev1.TolerationOpExists, Value: "v", Effect: "Never", TolerationSeconds: apivalSeconds(1)},
			},
			want: field.ErrorList{
				field.Invalid(apivalTolerations.Index(1).Child("key"), "-k", apivalKeyNameRegexMsg),
				field.Invalid(apivalTolerations.Index(1).Child("effect"), corev1.TaintEffect("Never"), "effect must be 'NoExecute' when `tolerationSeconds` is set"),
				field.Invalid(apivalTolerations.Index(1).Child("operator"), "v", "value must be empty when `operator` is 'Exists'"),
				field.NotSupported(apivalTolerations.Index(1).Child("effect"), corev1.TaintEffect("Never"),
					[]corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}),
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := inputFor(t, deploymentWith(2, corev1.PodSpec{Tolerations: tc.tolerations}))
			assertErrors(t, checkTolerationInvalid(in), tc.want)
		})
	}
}

// TestAPIValidationTolerationComparisonOperators covers the Lt/Gt branch the
// API server runs once the TaintTolerationComparisonOperators gate is on.
func TestAPIValidationTolerationComparisonOperators(t *testing.T) {
	value := apivalTolerations.Index(0).Child("value")
	cases := []struct {
		name       string
		toleration corev1.Toleration
		want       field.ErrorList
	}{
		{name: "Gt with an integer value is valid",
			toleration: corev1.Toleration{Key: "k", Operator: corev1.TolerationOpGt, Value: "-12"}},
		{name: "Lt with a non-integer value is invalid twice",
			toleration: corev1.Toleration{Key: "k", Operator: corev1.TolerationOpLt, Value: "ten"},
			want: field.ErrorList{
				field.Invalid(value, "ten", "must be a valid decimal integer in canonical form"),
				field.Invalid(value, "ten", `strconv.ParseInt: parsing "ten": invalid syntax`),
			}},
		{name: "Gt with a leading zero parses but is not canonical",
			toleration: corev1.Toleration{Key: "k", Operator: corev1.TolerationOpGt, Value: "010"},
			want:       field.ErrorList{field.Invalid(value, "010", "must be a valid decimal integer in canonical form")}},
		{name: "Gt beyond int64 is out of range",
			toleration: corev1.Toleration{Key: "k", Operator: corev1.TolerationOpGt, Value: "9223372036854775808"},
			want:       field.ErrorList{field.Invalid(value, "9223372036854775808", `strconv.ParseInt: parsing "9223372036854775808": value out of range`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := apiValidationOptions{allowTaintTolerationComparisonOperators: true}
			assertErrors(t, validateTolerations([]corev1.Toleration{tc.toleration}, opts, apivalTolerations), tc.want)
		})
	}
}

// TestFeatureGateTaintTolerationComparisonOperators: a PolicyConfig that
// says the cluster enables the gate makes toleration-invalid accept Lt and
// Gt tolerations, as that cluster's API server does, and still check their
// values.
func TestFeatureGateTaintTolerationComparisonOperators(t *testing.T) {
	gt := corev1.Toleration{Key: "gpu.example.com/generation", Operator: corev1.TolerationOpGt, Value: "3", Effect: corev1.TaintEffectNoSchedule}
	notInt := gt
	notInt.Value = "three"
	tolerations := field.NewPath("spec", "template", "spec", "tolerations")
	cases := []struct {
		name       string
		config     string
		toleration corev1.Toleration
		want       field.ErrorList
	}{
		{name: "without the gate Gt is not a supported operator", toleration: gt,
			want: field.ErrorList{field.NotSupported(tolerations.Index(0).Child("operator"), corev1.TolerationOpGt,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists, corev1.TolerationOpLt, corev1.TolerationOpGt})}},
		{name: "a gate set to false is the default", config: "featureGates: {TaintTolerationComparisonOperators: false}\n", toleration: gt,
			want: field.ErrorList{field.NotSupported(tolerations.Index(0).Child("operator"), corev1.TolerationOpGt,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists, corev1.TolerationOpLt, corev1.TolerationOpGt})}},
		{name: "with the gate Gt with an integer value is accepted",
			config: "featureGates: {TaintTolerationComparisonOperators: true}\n", toleration: gt},
		{name: "with the gate Gt with a value that is not an integer is still refused",
			config: "featureGates: {TaintTolerationComparisonOperators: true}\n", toleration: notInt,
			want: field.ErrorList{
				field.Invalid(tolerations.Index(0).Child("value"), "three", "must be a valid decimal integer in canonical form"),
				field.Invalid(tolerations.Index(0).Child("value"), "three", `strconv.ParseInt: parsing "three": invalid syntax`),
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := inputFor(t, deploymentWith(2, corev1.PodSpec{Tolerations: []corev1.Toleration{tc.toleration}}))
			in.Config = mustConfig(t, tc.config)
			assertErrors(t, checkTolerationInvalid(in), tc.want)
		})
	}
}

// TestAPIValidationControllerPodsRefusedForMatchLabelKeys: a controller
// whose pod affinity term names in matchLabelKeys a key its labelSelector
// already has is admitted, but each of its Pods is refused once the Pod
// strategy merges the key into the selector; the finding says so on the
// controller, quoting the Pod's error.
func TestAPIValidationControllerPodsRefusedForMatchLabelKeys(t *testing.T) {
	termPath := field.NewPath("spec", "template", "spec", "affinity", "podAffinity", "requiredDuringSchedulingIgnoredDuringExecution").Index(0)
	refused := field.Invalid(termPath.Index(0), "app",
		`the Deployment is admitted, but the API server refuses every Pod created from it with "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0][0]: Invalid value: \"app\": exists in both matchLabelKeys and labelSelector", because it adds app In (the pod's value) to the labelSelector for matchLabelKeys; remove "app" from matchLabelKeys or from the labelSelector`)
	cases := []struct {
		name string
		term corev1.PodAffinityTerm
		want field.ErrorList
	}{
		{name: "a matchLabelKeys key that is also in matchLabels refuses every Pod",
			term: corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "zone", MatchLabelKeys: []string{"app"}},
			want: field.ErrorList{refused}},
		{name: "a matchLabelKeys key the template does not carry is merged into no Pod",
			term: corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "zone", MatchLabelKeys: []string{"pod-template-hash", "track"}}},
		{name: "a mismatchLabelKeys key that is also in the labelSelector is allowed, as the API server allows it",
			term: corev1.PodAffinityTerm{LabelSelector: apivalSelector(), TopologyKey: "zone", MismatchLabelKeys: []string{"app"}}},
		{name: "a key twice in the template's own selector is reported once, as the template's error",
			term: corev1.PodAffinityTerm{TopologyKey: "zone", MatchLabelKeys: []string{"app"}, LabelSelector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"app": "web"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}},
			}},
			want: field.ErrorList{field.Invalid(termPath.Index(0), "app", "exists in both matchLabelKeys and labelSelector")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := deploymentWith(2, corev1.PodSpec{Affinity: apivalPodAffinity(tc.term)})
			assertErrors(t, checkAffinityInvalid(inputFor(t, d)), tc.want)
		})
	}
}
