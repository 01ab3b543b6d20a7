package fidelity

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cornerSpecs enumerates the corner cases of affinity and tolerations, one pod
// spec each, so that every one is in the set whatever the random draws: every
// node-selector operator with 0, 1 and several values, Gt/Lt values, label keys
// and values at and beyond their limits, matchFields, weights, topology keys,
// matchLabelKeys/mismatchLabelKeys with and without labelSelector, empty and
// missing terms, and every toleration operator, effect and tolerationSeconds.
func cornerSpecs() []corev1.PodSpec {
	var specs []corev1.PodSpec
	specs = append(specs, nodeRequirementCorners()...)
	specs = append(specs, nodeTermCorners()...)
	specs = append(specs, podAffinityCorners()...)
	return append(specs, tolerationCorners()...)
}

// baseSpec is a valid pod spec with the given affinity and tolerations.
func baseSpec(affinity *corev1.Affinity, tolerations ...corev1.Toleration) corev1.PodSpec {
	return corev1.PodSpec{
		Containers:  []corev1.Container{{Name: "c", Image: "registry.example/app:1"}},
		Affinity:    affinity,
		Tolerations: tolerations,
	}
}

// requiredTerms is required node affinity with the given terms.
func requiredTerms(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
}

// preferredTerm is preferred node affinity with one weighted term.
func preferredTerm(weight int32, term corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: weight, Preference: term}}}}
}

// nodeRequirementCorners crosses every operator with value lists and every
// key, in required and preferred terms (which accept invalid values).
func nodeRequirementCorners() []corev1.PodSpec {
	var specs []corev1.PodSpec
	valueLists := [][]string{nil, {"a"}, {"a", "b", "c"}, {"3"}, {"1.5"}, {"-1"}, {"9223372036854775808"},
		{validLabelValues[5]}, {invalidLabelValues[0]}, {""}, {"a", "-a"}}
	for _, op := range nodeOperators {
		for _, values := range valueLists {
			rq := corev1.NodeSelectorRequirement{Key: "zone", Operator: op, Values: values}
			term := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{rq}}
			specs = append(specs, baseSpec(requiredTerms(term)), baseSpec(preferredTerm(10, term)))
		}
	}
	for _, key := range append(append([]string{}, validLabelKeys...), invalidLabelKeys...) {
		rq := corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpExists}
		specs = append(specs, baseSpec(requiredTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{rq}})))
	}
	for _, value := range append(append([]string{}, validLabelValues...), invalidLabelValues...) {
		rq := corev1.NodeSelectorRequirement{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{value}}
		specs = append(specs, baseSpec(requiredTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{rq}})))
	}
	return specs
}

// nodeTermCorners covers matchFields, weights, and empty or missing terms.
func nodeTermCorners() []corev1.PodSpec {
	var specs []corev1.PodSpec
	names := append(append([]string{}, validNodeNames...), invalidNodeNames...)
	for _, key := range append([]string{metav1.ObjectNameField}, fieldKeys...) {
		for _, op := range nodeOperators {
			for _, values := range [][]string{nil, {"node-1"}, {"node-1", "node-2"}} {
				term := corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
				specs = append(specs, baseSpec(requiredTerms(term)))
			}
		}
	}
	for _, name := range names {
		term := corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{name}}}}
		specs = append(specs, baseSpec(requiredTerms(term)), baseSpec(preferredTerm(1, term)))
	}
	zone := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}
	for _, w := range weights {
		specs = append(specs, baseSpec(preferredTerm(w, zone)), baseSpec(preferredTerm(w, corev1.NodeSelectorTerm{})))
	}
	return append(specs,
		baseSpec(requiredTerms()),                          // no terms
		baseSpec(requiredTerms(corev1.NodeSelectorTerm{})), // one empty term
		baseSpec(requiredTerms(corev1.NodeSelectorTerm{}, zone)),
		baseSpec(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}}), // neither required nor preferred
		baseSpec(&corev1.Affinity{}),
	)
}

// podAffinityCorners covers topology keys, namespaces, selectors, weights
// and matchLabelKeys/mismatchLabelKeys with and without labelSelector.
func podAffinityCorners() []corev1.PodSpec {
	var specs []corev1.PodSpec
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "fidelity"}}
	term := func(mutate func(*corev1.PodAffinityTerm)) corev1.PodAffinityTerm {
		t := corev1.PodAffinityTerm{LabelSelector: selector.DeepCopy(), TopologyKey: "kubernetes.io/hostname"}
		mutate(&t)
		return t
	}
	wrap := func(t corev1.PodAffinityTerm, weight int32) []corev1.PodSpec {
		return []corev1.PodSpec{
			baseSpec(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{t}}}),
			baseSpec(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: weight, PodAffinityTerm: t}}}}),
		}
	}
	for _, key := range append(append([]string{}, topologyKeysValid...), invalidLabelKeys...) {
		specs = append(specs, wrap(term(func(t *corev1.PodAffinityTerm) { t.TopologyKey = key }), 1)...)
	}
	for _, w := range weights {
		specs = append(specs, wrap(term(func(*corev1.PodAffinityTerm) {}), w)...)
	}
	for _, ns := range append(append([]string{}, namespacesValid...), namespacesInvalid...) {
		specs = append(specs, wrap(term(func(t *corev1.PodAffinityTerm) { t.Namespaces = []string{ns} }), 1)...)
	}
	keyLists := [][]string{nil, {"app"}, {"tier"}, {"app", "tier"}, {"absent"}, {"bad key"}, {""}, {"app", "app"}}
	for _, sel := range []*metav1.LabelSelector{nil, {}, selector, {MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists}}}} {
		for _, match := range keyLists {
			for _, mismatch := range keyLists[:4] {
				specs = append(specs, wrap(term(func(t *corev1.PodAffinityTerm) {
					t.LabelSelector, t.MatchLabelKeys, t.MismatchLabelKeys = sel.DeepCopy(), match, mismatch
				}), 1)...)
			}
		}
	}
	for _, op := range labelSelectorOps {
		for _, values := range [][]string{nil, {"a"}, {"a", "-a"}} {
			sel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: op, Values: values}}}
			specs = append(specs, wrap(term(func(t *corev1.PodAffinityTerm) { t.LabelSelector, t.NamespaceSelector = sel, sel }), 1)...)
		}
	}
	return specs
}

// tolerationCorners crosses every toleration operator and effect with
// empty and set keys, values and tolerationSeconds, then keys and values at
// and beyond their limits.
func tolerationCorners() []corev1.PodSpec {
	var specs []corev1.PodSpec
	for _, op := range tolerationOperators {
		for _, effect := range taintEffects {
			for _, key := range []string{"", "dedicated"} {
				for _, value := range []string{"", "gpu", "5"} {
					for _, seconds := range tolerationSeconds[:3] {
						specs = append(specs, baseSpec(nil, corev1.Toleration{Key: key, Operator: op, Value: value, Effect: effect, TolerationSeconds: seconds}))
					}
				}
			}
		}
	}
	for _, key := range append(append([]string{}, validLabelKeys...), invalidLabelKeys...) {
		specs = append(specs, baseSpec(nil, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists}))
	}
	for _, value := range append(append([]string{}, validLabelValues...), invalidLabelValues...) {
		specs = append(specs, baseSpec(nil, corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: value, Effect: corev1.TaintEffectNoSchedule}),
			baseSpec(nil, corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Value: value}))
	}
	return append(specs, baseSpec(nil, corev1.Toleration{TolerationSeconds: tolerationSeconds[3], Effect: corev1.TaintEffectNoExecute, Operator: corev1.TolerationOpExists}))
}
