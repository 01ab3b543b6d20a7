package policies

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxStatefulSetNameLength keeps "<name>-<hash>", the pods'
// controller-revision-hash label value (hash up to 10 characters), within
// the 63-character limit of label values.
const maxStatefulSetNameLength = 52

var (
	serviceNamePath = field.NewPath("spec", "serviceName")
	vctPath         = field.NewPath("spec", "volumeClaimTemplates")
)

// checkStatefulSetServiceNameEmpty reports a StatefulSet without a
// governing Service: its pods get no stable DNS names.
func checkStatefulSetServiceNameEmpty(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.StatefulSet != nil && in.StatefulSet.Spec.ServiceName == "" {
		allErrs = append(allErrs, field.Required(serviceNamePath,
			"set it to a headless Service (clusterIP: None) that selects the pods, so each pod gets a stable DNS name"))
	}
	return allErrs
}

// checkStatefulSetServiceNotHeadless reports a governing Service that has a
// cluster IP (or is ExternalName): it publishes no per-pod DNS records.
func checkStatefulSetServiceNotHeadless(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.StatefulSet == nil || !in.ServiceFound {
		return allErrs
	}
	svc, name := in.Service, in.StatefulSet.Spec.ServiceName
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		allErrs = append(allErrs, field.Invalid(serviceNamePath, name, fmt.Sprintf(
			"Service %q is of type ExternalName, which publishes no per-pod DNS records; point spec.serviceName at a Service with clusterIP: None", name)))
	case svc.Spec.ClusterIP != corev1.ClusterIPNone:
		allErrs = append(allErrs, field.Invalid(serviceNamePath, name, fmt.Sprintf(
			"Service %q is not headless, so the pods get no stable DNS names; set clusterIP: None on it (or point spec.serviceName at a headless Service)", name)))
	}
	return allErrs
}

// checkStatefulSetServiceSelectorMisses reports a governing Service whose
// selector is empty or does not select the pod template's labels.
func checkStatefulSetServiceSelectorMisses(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.StatefulSet == nil || !in.ServiceFound || in.Service.Spec.Type == corev1.ServiceTypeExternalName {
		return allErrs
	}
	name, selector := in.StatefulSet.Spec.ServiceName, in.Service.Spec.Selector
	switch {
	case len(selector) == 0:
		allErrs = append(allErrs, field.Invalid(serviceNamePath, name, fmt.Sprintf(
			"Service %q has no selector, so it publishes no per-pod DNS records; give it a selector that matches spec.template.metadata.labels", name)))
	case !setMatches(selector, in.PodMeta.Labels):
		allErrs = append(allErrs, field.Invalid(serviceNamePath, name, fmt.Sprintf(
			"the selector %s of Service %q does not match the pod template labels, so the pods get no DNS records; make the selector a subset of spec.template.metadata.labels",
			labels.FormatLabels(selector), name)))
	}
	return allErrs
}

// checkStatefulSetServiceMissing reports a governing Service that does not
// exist (yet).
func checkStatefulSetServiceMissing(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.StatefulSet == nil || in.StatefulSet.Spec.ServiceName == "" || in.ServiceFound {
		return allErrs
	}
	err := field.NotFound(serviceNamePath, in.StatefulSet.Spec.ServiceName)
	err.Detail = fmt.Sprintf("no Service %q in namespace %q; create a headless Service (clusterIP: None) of that name that selects the pods",
		in.StatefulSet.Spec.ServiceName, in.Namespace())
	return append(allErrs, err)
}

// checkStatefulSetVolumeClaimTemplatesEmpty reports a StatefulSet without
// volumeClaimTemplates: its pods have no storage that outlives them.
func checkStatefulSetVolumeClaimTemplatesEmpty(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.StatefulSet != nil && len(in.StatefulSet.Spec.VolumeClaimTemplates) == 0 {
		allErrs = append(allErrs, field.Required(vctPath,
			"add a volumeClaimTemplate so each pod gets a PersistentVolumeClaim that outlives it (or use a Deployment for stateless pods)"))
	}
	return allErrs
}

// checkStatefulSetVolumeClaimTemplateUnused reports volumeClaimTemplates
// that no container or init container mounts, or uses as a raw block device
// (volumeDevices): the claims are created and paid for, but the data is
// written elsewhere.
func checkStatefulSetVolumeClaimTemplateUnused(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.StatefulSet == nil {
		return allErrs
	}
	for i, vct := range in.StatefulSet.Spec.VolumeClaimTemplates {
		if !mountsVolume(in.PodSpec, vct.Name) {
			allErrs = append(allErrs, field.Invalid(vctPath.Index(i).Child("metadata", "name"), vct.Name, fmt.Sprintf(
				"no container mounts the claim %q; add a volumeMount with name %q where the data lives, or remove the template", vct.Name, vct.Name)))
		}
	}
	return allErrs
}

func mountsVolume(spec *corev1.PodSpec, name string) bool {
	mounts := func(c corev1.Container) bool {
		return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == name }) ||
			slices.ContainsFunc(c.VolumeDevices, func(d corev1.VolumeDevice) bool { return d.Name == name })
	}
	return slices.ContainsFunc(spec.Containers, mounts) || slices.ContainsFunc(spec.InitContainers, mounts)
}

// checkStatefulSetNameTooLong reports a StatefulSet whose pods can never be
// created because their controller-revision-hash label would be too long.
func checkStatefulSetNameTooLong(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.StatefulSet != nil && len(in.Meta.Name) > maxStatefulSetNameLength {
		allErrs = append(allErrs, field.TooLong(field.NewPath("metadata", "name"), in.Meta.Name, maxStatefulSetNameLength))
		allErrs[0].Detail = fmt.Sprintf("must be no more than %d characters, or the pods' controller-revision-hash label exceeds 63 characters and no pod can be created; shorten the name",
			maxStatefulSetNameLength)
	}
	return allErrs
}
