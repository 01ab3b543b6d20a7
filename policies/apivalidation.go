package policies

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file ports the affinity and toleration checks of kube-apiserver
// v1.37.2 (k8s.io/kubernetes pkg/apis/core/validation/validation.go) to the
// k8s.io/api types, so that the offline CLI reports the same field paths,
// error types, bad values and wording as `kubectl apply`. The messages are
// therefore the API server's own, not setwarden's usual "what and how to fix"
// sentences: users can search for them. The order of the errors is the API
// server's, except that matchLabels are visited in sorted key order where the
// API server iterates a map.
//
// The API server's PodValidationOptions for a CREATE (see
// GetValidationOptionsFromPodSpecAndMeta in pkg/api/pod/util.go and the
// defaults in pkg/features/kube_features.go) are, for the options that
// matter here:
//   - AllowInvalidLabelValueInSelector: false; it is only true on UPDATE when
//     the old pod spec already had an invalid value in an affinity selector.
//   - AllowInvalidLabelValueInRequiredNodeAffinity: false; same, for required
//     node affinity. Preferred node affinity always allows invalid values.
//   - AllowTaintTolerationComparisonOperators: false; the gate
//     TaintTolerationComparisonOperators is alpha and off by default, and on
//     CREATE there is no old spec using Lt/Gt. Lt and Gt tolerations are thus
//     rejected as NotSupported, unless the PolicyConfig's featureGates say
//     the cluster enables the gate.
//   - MatchLabelKeysInPodAffinity is GA and locked on, so matchLabelKeys and
//     mismatchLabelKeys are kept and validated.
//
// On an UPDATE the API server may tolerate invalid label values that the old
// object already had; these checks stay as strict as a CREATE.

// apiValidationOptions is the subset of kube-apiserver's PodValidationOptions
// (plus the Pod strategy's matchLabelKeys merge) that these checks read.
type apiValidationOptions struct {
	allowInvalidLabelValueInSelector             bool
	allowInvalidLabelValueInRequiredNodeAffinity bool
	allowTaintTolerationComparisonOperators      bool
	// mergeLabelKeys is set for a Pod: the Pod strategy's PrepareForCreate
	// adds `key In (value)` (matchLabelKeys) and `key NotIn (value)`
	// (mismatchLabelKeys) expressions for the pod's own labels to each pod
	// affinity term's labelSelector before validation. Workload templates are
	// validated unmerged (their pods are merged when they are created).
	mergeLabelKeys bool
	// podLabels are the labels merged when mergeLabelKeys is set.
	podLabels map[string]string
	// labels is the engine's memo of valid label texts.
	labels *labelMemo
}

// createValidationOptions returns the options kube-apiserver v1.37.2 uses
// when the object is created, with default feature gates.
func createValidationOptions(in *Input) apiValidationOptions {
	opts := apiValidationOptions{labels: in.labels,
		allowTaintTolerationComparisonOperators: in.Config.FeatureGates[FeatureGateTaintTolerationComparisonOperators]}
	if in.GroupKind.Group == "" && in.GroupKind.Kind == "Pod" {
		opts.mergeLabelKeys, opts.podLabels = true, in.PodMeta.Labels
	}
	return opts
}

// checkAffinityInvalid reports affinity that kube-apiserver would reject:
// in the object itself, and for a controller also in each Pod it creates.
func checkAffinityInvalid(in *Input) field.ErrorList {
	opts, fldPath := createValidationOptions(in), in.PodSpecPath.Child("affinity")
	allErrs := uniqueErrors(validateAffinity(in.PodSpec.Affinity, opts, fldPath))
	if !opts.mergeLabelKeys {
		allErrs = append(allErrs, checkPodsRefusedForMatchLabelKeys(in, opts, fldPath, allErrs)...)
	}
	return allErrs
}

// podAffinityPath is where the API server reports a Pod's affinity.
var podAffinityPath = field.NewPath("spec", "affinity")

// checkPodsRefusedForMatchLabelKeys reports matchLabelKeys that the API
// server accepts in a controller's pod template but refuses in every Pod
// the controller creates: the Pod strategy first adds `key In (value)` for
// the pod's own label to the labelSelector, so a key the selector already
// names is there twice. The finding is at the template's path, quoting the
// Pod's error as the API server words it.
func checkPodsRefusedForMatchLabelKeys(in *Input, opts apiValidationOptions, fldPath *field.Path, templateErrs field.ErrorList) field.ErrorList {
	allErrs := field.ErrorList{}
	if !hasMatchLabelKeys(in.PodSpec.Affinity) {
		return allErrs
	}
	opts.mergeLabelKeys, opts.podLabels = true, in.PodMeta.Labels
	for _, err := range uniqueErrors(validateAffinity(in.PodSpec.Affinity, opts, fldPath)) {
		if err.Origin != "duplicatedLabelKeys" || slices.ContainsFunc(templateErrs, func(t *field.Error) bool { return t.Error() == err.Error() }) {
			continue
		}
		podErr := *err
		podErr.Field = podAffinityPath.String() + strings.TrimPrefix(err.Field, fldPath.String())
		finding := field.Invalid(fldPath, err.BadValue, fmt.Sprintf(
			"the %s is admitted, but the API server refuses every Pod created from it with %q, because it adds %s In (the pod's value) to the labelSelector for matchLabelKeys; remove %q from matchLabelKeys or from the labelSelector",
			in.GroupKind.Kind, podErr.Error(), err.BadValue, err.BadValue)).WithOrigin(err.Origin)
		finding.Field = err.Field // the term's path, indexed by the key's position, as for the Pod
		allErrs = append(allErrs, finding)
	}
	return allErrs
}

// hasMatchLabelKeys reports whether any pod (anti-)affinity term sets matchLabelKeys.
func hasMatchLabelKeys(affinity *corev1.Affinity) bool {
	if affinity == nil {
		return false
	}
	has := func(t corev1.PodAffinityTerm) bool { return len(t.MatchLabelKeys) > 0 }
	weighted := func(t corev1.WeightedPodAffinityTerm) bool { return has(t.PodAffinityTerm) }
	if pa := affinity.PodAffinity; pa != nil && (slices.ContainsFunc(pa.RequiredDuringSchedulingIgnoredDuringExecution, has) ||
		slices.ContainsFunc(pa.PreferredDuringSchedulingIgnoredDuringExecution, weighted)) {
		return true
	}
	paa := affinity.PodAntiAffinity
	return paa != nil && (slices.ContainsFunc(paa.RequiredDuringSchedulingIgnoredDuringExecution, has) ||
		slices.ContainsFunc(paa.PreferredDuringSchedulingIgnoredDuringExecution, weighted))
}

// checkTolerationInvalid reports tolerations that kube-apiserver would reject.
func checkTolerationInvalid(in *Input) field.ErrorList {
	return uniqueErrors(validateTolerations(in.PodSpec.Tolerations, createValidationOptions(in), in.PodSpecPath.Child("tolerations")))
}

// uniqueErrors drops the repeats of an error (same path, type, value and
// detail), keeping the first, as kube-apiserver's response does: a key that
// appears twice in a labelSelector and once in matchLabelKeys is validated
// twice but reported once.
func uniqueErrors(errs field.ErrorList) field.ErrorList {
	seen := sets.New[string]()
	return slices.DeleteFunc(errs, func(err *field.Error) bool {
		key := err.Error()
		if seen.Has(key) {
			return true
		}
		seen.Insert(key)
		return false
	})
}

// validateAffinity ports validateAffinity.
func validateAffinity(affinity *corev1.Affinity, opts apiValidationOptions, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if affinity == nil {
		return allErrs
	}
	if affinity.NodeAffinity != nil {
		allErrs = append(allErrs, validateNodeAffinity(affinity.NodeAffinity, opts, fldPath.Child("nodeAffinity"))...)
	}
	if affinity.PodAffinity != nil {
		allErrs = append(allErrs, validatePodAffinityTermSets(affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			affinity.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution, opts, fldPath.Child("podAffinity"))...)
	}
	if affinity.PodAntiAffinity != nil {
		allErrs = append(allErrs, validatePodAffinityTermSets(affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution, opts, fldPath.Child("podAntiAffinity"))...)
	}
	return allErrs
}

// validateNodeAffinity ports validateNodeAffinity.
func validateNodeAffinity(na *corev1.NodeAffinity, opts apiValidationOptions, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		allErrs = append(allErrs, validateNodeSelector(na.RequiredDuringSchedulingIgnoredDuringExecution,
			opts.allowInvalidLabelValueInRequiredNodeAffinity, fldPath.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
	}
	if len(na.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		allErrs = append(allErrs, validatePreferredSchedulingTerms(na.PreferredDuringSchedulingIgnoredDuringExecution,
			fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution"))...)
	}
	return allErrs
}

// validateNodeSelector ports ValidateNodeSelector: an empty term list is
// reported alone, as the API server does.
func validateNodeSelector(ns *corev1.NodeSelector, allowInvalidValue bool, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	termFldPath := fldPath.Child("nodeSelectorTerms")
	if len(ns.NodeSelectorTerms) == 0 {
		return append(allErrs, field.Required(termFldPath, "must have at least one node selector term"))
	}
	for i, term := range ns.NodeSelectorTerms {
		allErrs = append(allErrs, validateNodeSelectorTerm(term, allowInvalidValue, termFldPath.Index(i))...)
	}
	return allErrs
}

// validatePreferredSchedulingTerms ports ValidatePreferredSchedulingTerms.
func validatePreferredSchedulingTerms(terms []corev1.PreferredSchedulingTerm, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	for i, term := range terms {
		if term.Weight <= 0 || term.Weight > 100 {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i).Child("weight"), term.Weight, "must be in the range 1-100"))
		}
		// The API server always allows invalid label values in preferred
		// terms: they can still succeed on a cluster of one node.
		allErrs = append(allErrs, validateNodeSelectorTerm(term.Preference, true, fldPath.Index(i).Child("preference"))...)
	}
	return allErrs
}

// validateNodeSelectorTerm ports ValidateNodeSelectorTerm.
func validateNodeSelectorTerm(term corev1.NodeSelectorTerm, allowInvalidValue bool, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	for j, req := range term.MatchExpressions {
		allErrs = append(allErrs, validateNodeSelectorRequirement(req, allowInvalidValue, fldPath.Child("matchExpressions").Index(j))...)
	}
	for j, req := range term.MatchFields {
		allErrs = append(allErrs, validateNodeFieldSelectorRequirement(req, fldPath.Child("matchFields").Index(j))...)
	}
	return allErrs
}

// validateNodeSelectorRequirement ports ValidateNodeSelectorRequirement. Like
// the API server, it does not check that a Gt or Lt value is an integer: the
// scheduler then matches no node (see node-affinity-unsatisfiable).
func validateNodeSelectorRequirement(rq corev1.NodeSelectorRequirement, allowInvalidValue bool, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	switch rq.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(rq.Values) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(rq.Values) > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(rq.Values) != 1 {
			allErrs = append(allErrs, field.Required(fldPath.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("operator"), rq.Operator, "not a valid selector operator"))
	}
	allErrs = append(allErrs, metav1validation.ValidateLabelName(rq.Key, fldPath.Child("key"))...)
	if !allowInvalidValue {
		for i, value := range rq.Values {
			for _, msg := range content.IsLabelValue(value) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("values").Index(i), value, msg).WithOrigin("format=k8s-label-value"))
			}
		}
	}
	return allErrs
}

// nodeFieldSelectorValidators maps the node fields a matchFields requirement
// may select on to the validation of their values.
var nodeFieldSelectorValidators = map[string]func(string, bool) []string{
	metav1.ObjectNameField: apimachineryvalidation.NameIsDNSSubdomain,
}

// validateNodeFieldSelectorRequirement ports ValidateNodeFieldSelectorRequirement.
func validateNodeFieldSelectorRequirement(req corev1.NodeSelectorRequirement, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	switch req.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(req.Values) != 1 {
			allErrs = append(allErrs, field.Required(fldPath.Child("values"),
				"must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
		}
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("operator"), req.Operator, "not a valid selector operator"))
	}
	vf, found := nodeFieldSelectorValidators[req.Key]
	if !found {
		return append(allErrs, field.Invalid(fldPath.Child("key"), req.Key, "not a valid field selector key"))
	}
	for i, v := range req.Values {
		for _, msg := range vf(v, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("values").Index(i), v, msg))
		}
	}
	return allErrs
}

// validatePodAffinityTermSets ports validatePodAffinity and
// validatePodAntiAffinity, which are identical but for their path.
func validatePodAffinityTermSets(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm,
	opts apiValidationOptions, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	reqPath := fldPath.Child("requiredDuringSchedulingIgnoredDuringExecution")
	for i, term := range required {
		allErrs = append(allErrs, validatePodAffinityTerm(term, opts, reqPath.Index(i))...)
	}
	prefPath := fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution")
	for j, weighted := range preferred {
		if weighted.Weight <= 0 || weighted.Weight > 100 {
			allErrs = append(allErrs, field.Invalid(prefPath.Index(j).Child("weight"), weighted.Weight, "must be in the range 1-100"))
		}
		allErrs = append(allErrs, validatePodAffinityTerm(weighted.PodAffinityTerm, opts, prefPath.Index(j).Child("podAffinityTerm"))...)
	}
	return allErrs
}

// validatePodAffinityTerm ports validatePodAffinityTerm. Two quirks of the
// API server are kept on purpose: invalid namespaces are reported at
// `namespace` (singular, without an index), and an empty topologyKey gets
// both a Required and the label-name errors.
func validatePodAffinityTerm(term corev1.PodAffinityTerm, opts apiValidationOptions, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if opts.mergeLabelKeys {
		term = mergeLabelKeysIntoSelector(term, opts.podLabels)
	}
	selectorOpts := metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: opts.allowInvalidLabelValueInSelector}
	allErrs = append(allErrs, validateLabelSelector(opts.labels, term.LabelSelector, selectorOpts, fldPath.Child("labelSelector"))...)
	allErrs = append(allErrs, validateLabelSelector(opts.labels, term.NamespaceSelector, selectorOpts, fldPath.Child("namespaceSelector"))...)
	for _, name := range term.Namespaces {
		for _, msg := range apimachineryvalidation.ValidateNamespaceName(name, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), name, msg))
		}
	}
	allErrs = append(allErrs, validateMatchLabelKeysAndMismatchLabelKeys(opts.labels, fldPath, term.MatchLabelKeys, term.MismatchLabelKeys, term.LabelSelector)...)
	if len(term.TopologyKey) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("topologyKey"), "can not be empty"))
	}
	if opts.labels.key(term.TopologyKey) {
		return allErrs
	}
	return append(allErrs, metav1validation.ValidateLabelName(term.TopologyKey, fldPath.Child("topologyKey"))...)
}

// mergeLabelKeysIntoSelector returns term with the labelSelector the Pod
// strategy stores (applyMatchLabelKeysAndMismatchLabelKeys), leaving the
// caller's object untouched.
func mergeLabelKeysIntoSelector(term corev1.PodAffinityTerm, podLabels map[string]string) corev1.PodAffinityTerm {
	if (len(term.MatchLabelKeys) == 0 && len(term.MismatchLabelKeys) == 0) || term.LabelSelector == nil {
		return term
	}
	selector := term.LabelSelector.DeepCopy()
	for _, keys := range []struct {
		keys []string
		op   metav1.LabelSelectorOperator
	}{{term.MatchLabelKeys, metav1.LabelSelectorOpIn}, {term.MismatchLabelKeys, metav1.LabelSelectorOpNotIn}} {
		for _, key := range keys.keys {
			if value, ok := podLabels[key]; ok {
				selector.MatchExpressions = append(selector.MatchExpressions,
					metav1.LabelSelectorRequirement{Key: key, Operator: keys.op, Values: []string{value}})
			}
		}
	}
	term.LabelSelector = selector
	return term
}

// validateLabelSelector is metav1validation.ValidateLabelSelector with the
// matchLabels visited in sorted key order, so that the report is stable
// where the API server's order depends on map iteration.
func validateLabelSelector(memo *labelMemo, ps *metav1.LabelSelector, opts metav1validation.LabelSelectorValidationOptions, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if ps == nil {
		return allErrs
	}
	if !memo.pairs(ps.MatchLabels) {
		for _, key := range slices.Sorted(maps.Keys(ps.MatchLabels)) {
			allErrs = append(allErrs, metav1validation.ValidateLabels(map[string]string{key: ps.MatchLabels[key]}, fldPath.Child("matchLabels"))...)
		}
	}
	for i, expr := range ps.MatchExpressions {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelectorRequirement(expr, opts, fldPath.Child("matchExpressions").Index(i))...)
	}
	return allErrs
}

// validateMatchLabelKeysAndMismatchLabelKeys ports
// ValidateMatchLabelKeysAndMismatchLabelKeys. The API server reports a key
// that is in both matchLabelKeys and the labelSelector only when the key
// appears twice in the (merged) selector, and at the term's path indexed by
// the key's position; both quirks are kept so the paths match kubectl's.
func validateMatchLabelKeysAndMismatchLabelKeys(memo *labelMemo, fldPath *field.Path, matchLabelKeys, mismatchLabelKeys []string, selector *metav1.LabelSelector) field.ErrorList {
	allErrs := field.ErrorList{}
	allErrs = append(allErrs, validateLabelKeys(memo, fldPath.Child("matchLabelKeys"), matchLabelKeys, selector)...)
	allErrs = append(allErrs, validateLabelKeys(memo, fldPath.Child("mismatchLabelKeys"), mismatchLabelKeys, selector)...)
	if selector != nil {
		labelKeysMap := map[string]int{}
		for i, key := range matchLabelKeys {
			labelKeysMap[key] = i
		}
		selectorKeys := sets.KeySet(selector.MatchLabels)
		for _, expr := range selector.MatchExpressions {
			if i, ok := labelKeysMap[expr.Key]; ok && selectorKeys.Has(expr.Key) {
				allErrs = append(allErrs, field.Invalid(fldPath.Index(i), expr.Key, "exists in both matchLabelKeys and labelSelector").WithOrigin("duplicatedLabelKeys"))
			}
			selectorKeys.Insert(expr.Key)
		}
	}
	mismatch := sets.New(mismatchLabelKeys...)
	for i, key := range matchLabelKeys {
		if mismatch.Has(key) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("matchLabelKeys").Index(i), key, "exists in both matchLabelKeys and mismatchLabelKeys").WithOrigin("duplicatedMismatchLabelKeys"))
		}
	}
	return allErrs
}

// validateLabelKeys ports validateLabelKeys: label keys without a
// labelSelector are reported once, at the list.
func validateLabelKeys(memo *labelMemo, fldPath *field.Path, labelKeys []string, selector *metav1.LabelSelector) field.ErrorList {
	allErrs := field.ErrorList{}
	if len(labelKeys) == 0 {
		return allErrs
	}
	if selector == nil {
		return append(allErrs, field.Forbidden(fldPath, "must not be specified when labelSelector is not set"))
	}
	for i, key := range labelKeys {
		if !memo.key(key) {
			allErrs = append(allErrs, metav1validation.ValidateLabelName(key, fldPath.Index(i))...)
		}
	}
	return allErrs
}

// validateTolerations ports ValidateTolerations.
func validateTolerations(tolerations []corev1.Toleration, opts apiValidationOptions, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	for i := range tolerations {
		allErrs = append(allErrs, validateToleration(&tolerations[i], opts, fldPath.Index(i))...)
	}
	return allErrs
}

// validateToleration checks one toleration in the API server's order: key,
// empty key, tolerationSeconds, operator and value, effect.
func validateToleration(toleration *corev1.Toleration, opts apiValidationOptions, idxPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if len(toleration.Key) > 0 {
		allErrs = append(allErrs, metav1validation.ValidateLabelName(toleration.Key, idxPath.Child("key"))...)
	}
	// An empty key with operator Exists (and no value) tolerates every taint.
	if len(toleration.Key) == 0 && toleration.Operator != corev1.TolerationOpExists {
		allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), toleration.Operator,
			"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
	}
	if toleration.TolerationSeconds != nil && toleration.Effect != corev1.TaintEffectNoExecute {
		allErrs = append(allErrs, field.Invalid(idxPath.Child("effect"), toleration.Effect,
			"effect must be 'NoExecute' when `tolerationSeconds` is set"))
	}
	allErrs = append(allErrs, validateTolerationOperator(toleration, opts, idxPath)...)
	// An empty effect tolerates every taint effect.
	if len(toleration.Effect) > 0 {
		allErrs = append(allErrs, validateTaintEffect(toleration.Effect, idxPath.Child("effect"))...)
	}
	return allErrs
}

// validateTolerationOperator checks the operator and the value it implies.
// As in the API server, an invalid value under Equal is reported at
// `operator`, and the NotSupported list for a disabled Lt/Gt names Lt and Gt.
func validateTolerationOperator(toleration *corev1.Toleration, opts apiValidationOptions, idxPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	switch toleration.Operator {
	case corev1.TolerationOpEqual, "": // empty means Equal
		if errs := content.IsLabelValue(toleration.Value); len(errs) != 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), toleration.Value, strings.Join(errs, ";")))
		}
	case corev1.TolerationOpExists:
		if len(toleration.Value) > 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), toleration.Value, "value must be empty when `operator` is 'Exists'"))
		}
	case corev1.TolerationOpLt, corev1.TolerationOpGt:
		if !opts.allowTaintTolerationComparisonOperators {
			valid := []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists, corev1.TolerationOpLt, corev1.TolerationOpGt}
			return append(allErrs, field.NotSupported(idxPath.Child("operator"), toleration.Operator, valid))
		}
		for _, msg := range content.IsDecimalInteger(toleration.Value) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("value"), toleration.Value, msg))
		}
		if _, err := strconv.ParseInt(toleration.Value, 10, 64); err != nil {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("value"), toleration.Value, err.Error()))
		}
	default:
		valid := []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}
		allErrs = append(allErrs, field.NotSupported(idxPath.Child("operator"), toleration.Operator, valid))
	}
	return allErrs
}

// validateTaintEffect ports validateTaintEffect for a non-empty effect.
// NoScheduleNoAdmit is not implemented by the API server, so it is not
// offered either.
func validateTaintEffect(effect corev1.TaintEffect, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	switch effect {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		valid := []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}
		allErrs = append(allErrs, field.NotSupported(fldPath, effect, valid))
	}
	return allErrs
}
