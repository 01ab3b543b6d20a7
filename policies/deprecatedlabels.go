package policies

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// deprecatedNodeLabels maps deprecated well-known node labels to their
// stable replacements, which current kubelets and cloud providers set.
var deprecatedNodeLabels = map[string]string{
	"failure-domain.beta.kubernetes.io/zone":   corev1.LabelTopologyZone,
	"failure-domain.beta.kubernetes.io/region": corev1.LabelTopologyRegion,
	"beta.kubernetes.io/os":                    corev1.LabelOSStable,
	"beta.kubernetes.io/arch":                  corev1.LabelArchStable,
	"beta.kubernetes.io/instance-type":         corev1.LabelInstanceTypeStable,
	"node-role.kubernetes.io/master":           "node-role.kubernetes.io/control-plane",
}

// checkDeprecatedLabel returns an error when key is a deprecated node label.
func checkDeprecatedLabel(key string, fldPath *field.Path) field.ErrorList {
	stable, ok := deprecatedNodeLabels[key]
	if !ok {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, key,
		fmt.Sprintf("deprecated node label, which newer nodes may lack: use %s instead", stable))}
}

// checkDeprecatedTermKeys checks the matchExpressions keys of ORed or
// alternative terms. A deprecated key is not reported when another term of
// the same list uses its stable replacement: charts pair the two on purpose
// so that old and new clusters both match, and the stable term covers the
// nodes that lack the old label.
func checkDeprecatedTermKeys(terms []*corev1.NodeSelectorTerm, termPaths []*field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	for i, term := range terms {
		for j, rq := range term.MatchExpressions {
			stable, ok := deprecatedNodeLabels[rq.Key]
			if !ok || termsUseKey(terms, i, stable) {
				continue
			}
			allErrs = append(allErrs, checkDeprecatedLabel(rq.Key, termPaths[i].Child("matchExpressions").Index(j).Child("key"))...)
		}
	}
	return allErrs
}

// termsUseKey reports whether a term other than terms[skip] has a
// matchExpression on key.
func termsUseKey(terms []*corev1.NodeSelectorTerm, skip int, key string) bool {
	for i, term := range terms {
		if i != skip && slices.ContainsFunc(term.MatchExpressions, func(rq corev1.NodeSelectorRequirement) bool { return rq.Key == key }) {
			return true
		}
	}
	return false
}

// checkDeprecatedNodeAffinityLabels checks required and preferred node affinity keys.
func checkDeprecatedNodeAffinityLabels(na *corev1.NodeAffinity, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if na == nil {
		return allErrs
	}
	if required := na.RequiredDuringSchedulingIgnoredDuringExecution; required != nil {
		termsPath := fldPath.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		var terms []*corev1.NodeSelectorTerm
		var paths []*field.Path
		for i := range required.NodeSelectorTerms {
			terms, paths = append(terms, &required.NodeSelectorTerms[i]), append(paths, termsPath.Index(i))
		}
		allErrs = append(allErrs, checkDeprecatedTermKeys(terms, paths)...)
	}
	preferredPath := fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution")
	var terms []*corev1.NodeSelectorTerm
	var paths []*field.Path
	for i := range na.PreferredDuringSchedulingIgnoredDuringExecution {
		terms = append(terms, &na.PreferredDuringSchedulingIgnoredDuringExecution[i].Preference)
		paths = append(paths, preferredPath.Index(i).Child("preference"))
	}
	return append(allErrs, checkDeprecatedTermKeys(terms, paths)...)
}

// checkDeprecatedPodAffinityTopologyKeys checks the topologyKeys of pod
// affinity or anti-affinity terms, required and preferred.
func checkDeprecatedPodAffinityTopologyKeys(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	for i, term := range required {
		allErrs = append(allErrs, checkDeprecatedLabel(term.TopologyKey,
			fldPath.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i).Child("topologyKey"))...)
	}
	for i, term := range preferred {
		allErrs = append(allErrs, checkDeprecatedLabel(term.PodAffinityTerm.TopologyKey,
			fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i).Child("podAffinityTerm", "topologyKey"))...)
	}
	return allErrs
}

// checkAffinityDeprecatedLabel reports deprecated node labels in
// placement: nodeSelector keys, node affinity keys, pod (anti-)affinity
// topologyKeys and topologySpreadConstraints topologyKeys. A term that
// names a deprecated label silently stops matching on nodes that carry only
// the stable one.
func checkAffinityDeprecatedLabel(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	spec := in.PodSpec
	for _, key := range sets.List(sets.KeySet(spec.NodeSelector)) {
		allErrs = append(allErrs, checkDeprecatedLabel(key, in.PodSpecPath.Child("nodeSelector").Key(key))...)
	}
	if a := spec.Affinity; a != nil {
		fldPath := in.PodSpecPath.Child("affinity")
		allErrs = append(allErrs, checkDeprecatedNodeAffinityLabels(a.NodeAffinity, fldPath.Child("nodeAffinity"))...)
		if pa := a.PodAffinity; pa != nil {
			allErrs = append(allErrs, checkDeprecatedPodAffinityTopologyKeys(pa.RequiredDuringSchedulingIgnoredDuringExecution,
				pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAffinity"))...)
		}
		if paa := a.PodAntiAffinity; paa != nil {
			allErrs = append(allErrs, checkDeprecatedPodAffinityTopologyKeys(paa.RequiredDuringSchedulingIgnoredDuringExecution,
				paa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAntiAffinity"))...)
		}
	}
	for i, c := range spec.TopologySpreadConstraints {
		allErrs = append(allErrs, checkDeprecatedLabel(c.TopologyKey,
			in.PodSpecPath.Child("topologySpreadConstraints").Index(i).Child("topologyKey"))...)
	}
	return allErrs
}
