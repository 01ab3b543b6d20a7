package policies

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The checks in this file port the selector checks of kube-apiserver v1.37.2
// (ValidateDeploymentSpec, ValidateReplicaSetSpec, ValidateStatefulSetSpec
// and ValidateDaemonSetSpec in pkg/apis/apps/validation, ValidateJobSpec and
// ValidateJobTemplateSpec in pkg/apis/batch/validation,
// ValidateReplicationControllerSpec in pkg/apis/core/validation) with their
// wording: a controller whose selector does not select its own pods is
// refused when it is created.

// selectorMismatchDetail is the API server's message, word for word.
const selectorMismatchDetail = "`selector` does not match template `labels`"

// selectorKinds are the kinds whose selector is checked against their template.
var selectorKinds = []schema.GroupKind{
	{Kind: "ReplicationController"},
	{Group: "apps", Kind: "Deployment"},
	{Group: "apps", Kind: "ReplicaSet"},
	{Group: "apps", Kind: "StatefulSet"},
	{Group: "apps", Kind: "DaemonSet"},
	{Group: "batch", Kind: "Job"},
	{Group: "batch", Kind: "CronJob"},
}

// checkSelectorTemplateMismatch reports a controller whose selector does not
// select the labels of its pod template, as the API server refuses it.
func checkSelectorTemplateMismatch(in *Input) field.ErrorList {
	switch o := in.Object.(type) {
	case *appsv1.Deployment:
		return checkLabelSelectorMismatch(in.labels, o.Spec.Selector, o.Spec.Template.Labels, specPath)
	case *appsv1.ReplicaSet:
		return checkLabelSelectorMismatch(in.labels, o.Spec.Selector, o.Spec.Template.Labels, specPath)
	case *appsv1.StatefulSet:
		return checkLabelSelectorMismatch(in.labels, o.Spec.Selector, o.Spec.Template.Labels, specPath)
	case *appsv1.DaemonSet:
		return checkLabelSelectorMismatch(in.labels, o.Spec.Selector, o.Spec.Template.Labels, specPath)
	case *batchv1.Job:
		// Without manualSelector the API server generates the selector and
		// the template labels it selects.
		if o.Spec.ManualSelector == nil || !*o.Spec.ManualSelector {
			return field.ErrorList{}
		}
		return checkLabelSelectorMismatch(in.labels, o.Spec.Selector, o.Spec.Template.Labels, specPath)
	case *batchv1.CronJob:
		return checkJobTemplateSelectorSet(o.Spec.JobTemplate.Spec.Selector, specPath.Child("jobTemplate"))
	case *corev1.ReplicationController:
		return checkReplicationControllerSelectorMismatch(&o.Spec, specPath)
	}
	return field.ErrorList{}
}

// checkLabelSelectorMismatch reports a selector that does not match the
// template labels. A missing or invalid selector is not judged: the API
// server refuses it as required or invalid in its own right (and also
// reports a missing one as not matching, since it selects nothing).
func checkLabelSelectorMismatch(memo *labelMemo, selector *metav1.LabelSelector, templateLabels map[string]string, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if selector != nil && selectorMisses(memo, selector, templateLabels) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("template", "metadata", "labels"), templateLabels, selectorMismatchDetail))
	}
	return allErrs
}

// selectorMisses reports whether a valid selector does not match set, as
// !metav1.LabelSelectorAsSelector(selector).Matches(set) does; an invalid
// selector does not miss.
func selectorMisses(memo *labelMemo, selector *metav1.LabelSelector, set map[string]string) bool {
	if len(selector.MatchExpressions) == 0 && memo.pairs(selector.MatchLabels) {
		return !setMatches(selector.MatchLabels, set)
	}
	s, err := metav1.LabelSelectorAsSelector(selector)
	return err == nil && !s.Matches(labels.Set(set))
}

// checkJobTemplateSelectorSet reports a selector in a CronJob's job
// template: the API server always generates it, so none may be set.
func checkJobTemplateSelectorSet(selector *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if selector != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("spec", "selector"), selector, "`selector` will be auto-generated"))
	}
	return allErrs
}

// checkReplicationControllerSelectorMismatch reports a ReplicationController
// selector (a map) that does not match the template labels. An empty
// selector is defaulted to the template labels, and a missing template is
// reported by the API server as required.
func checkReplicationControllerSelectorMismatch(spec *corev1.ReplicationControllerSpec, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if spec.Template == nil || len(spec.Selector) == 0 {
		return allErrs
	}
	if !setMatches(spec.Selector, spec.Template.Labels) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels, selectorMismatchDetail))
	}
	return allErrs
}
