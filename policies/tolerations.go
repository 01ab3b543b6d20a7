package policies

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
)

// controlPlaneRoleKeys are the node-role keys whose taint value differs
// between distributions ("" in kubeadm, "true" elsewhere).
var controlPlaneRoleKeys = []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"}

// probeValues are two distinct taint values. A toleration that tolerates a
// taint with both values tolerates it whatever its value is, because an
// Equal toleration matches exactly one value.
var probeValues = []string{"", "setwarden-probe"}

// tolerationsCover reports whether the tolerations tolerate the taint
// whatever its value is, by Kubernetes' own toleration matching.
func tolerationsCover(tolerations []corev1.Toleration, taint TaintConfig) bool {
	return slices.ContainsFunc(tolerations, func(t corev1.Toleration) bool {
		for _, v := range probeValues {
			probe := corev1.Taint{Key: taint.Key, Value: v, Effect: taint.Effect}
			if !t.ToleratesTaint(klog.Background(), &probe, false) {
				return false
			}
		}
		return true
	})
}

// isAgent reports whether the object is an agent DaemonSet under cfg.
func isAgent(in *Input) bool {
	return in.DaemonSet != nil && in.Config.IsAgent(in.Meta)
}

// checkAgentTolerationsMissing reports each configured NoSchedule or
// NoExecute control-plane taint an agent DaemonSet does not tolerate
// whatever the taint's value is: the DaemonSet controller places no pod on
// such a node.
func checkAgentTolerationsMissing(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if !isAgent(in) {
		return allErrs
	}
	fldPath := in.PodSpecPath.Child("tolerations")
	for _, taint := range in.Config.ControlPlaneTaints {
		if taint.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !tolerationsCover(in.PodSpec.Tolerations, taint) {
			allErrs = append(allErrs, field.Required(fldPath, fmt.Sprintf(
				"agent DaemonSet does not tolerate the %s:%s taint, so it cannot run on control-plane nodes; add {key: %s, operator: Exists, effect: %s}",
				taint.Key, taint.Effect, taint.Key, taint.Effect)))
		}
	}
	return allErrs
}

// adviseAgentPreferNoScheduleTolerationsMissing reports each configured
// PreferNoSchedule control-plane taint an agent DaemonSet does not
// tolerate. The DaemonSet controller ignores PreferNoSchedule, and each
// daemon pod may only go to its own node, so the agent still runs there:
// the gap is worth a warning, never a denial.
func adviseAgentPreferNoScheduleTolerationsMissing(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if !isAgent(in) {
		return allErrs
	}
	fldPath := in.PodSpecPath.Child("tolerations")
	for _, taint := range in.Config.ControlPlaneTaints {
		if taint.Effect == corev1.TaintEffectPreferNoSchedule && !tolerationsCover(in.PodSpec.Tolerations, taint) {
			allErrs = append(allErrs, field.Required(fldPath, fmt.Sprintf(
				"no toleration for %s:PreferNoSchedule, a preference only: the agent still runs on control-plane nodes; add {key: %s, operator: Exists, effect: PreferNoSchedule}",
				taint.Key, taint.Key)))
		}
	}
	return allErrs
}

// checkTolerationValueFragile reports tolerations for control-plane role
// keys that match one fixed value: the value differs between distributions,
// so the toleration silently stops matching.
func checkTolerationValueFragile(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	fldPath := in.PodSpecPath.Child("tolerations")
	keys := roleKeys(in.Config)
	for i, t := range in.PodSpec.Tolerations {
		if !slices.Contains(keys, t.Key) {
			continue
		}
		if t.Operator == corev1.TolerationOpEqual || t.Operator == "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i).Child("operator"), t.Operator, fmt.Sprintf(
				"toleration for %s matches only the value %q, but distributions set different values; use operator: Exists and drop the value",
				t.Key, t.Value)))
		}
	}
	return allErrs
}

// roleKeys are the control-plane role keys plus the configured taint keys.
func roleKeys(cfg *Config) []string {
	keys := slices.Clone(controlPlaneRoleKeys)
	for _, t := range cfg.ControlPlaneTaints {
		if !slices.Contains(keys, t.Key) {
			keys = append(keys, t.Key)
		}
	}
	return keys
}

// AddAgentTolerations adds an `operator: Exists` toleration for each
// configured control-plane taint the tolerations do not already cover. It
// returns the tolerations added; calling it again adds nothing.
func AddAgentTolerations(spec *corev1.PodSpec, taints []TaintConfig) []corev1.Toleration {
	var added []corev1.Toleration
	for _, taint := range taints {
		if tolerationsCover(spec.Tolerations, taint) {
			continue
		}
		t := corev1.Toleration{Key: taint.Key, Operator: corev1.TolerationOpExists, Effect: taint.Effect}
		spec.Tolerations = append(spec.Tolerations, t)
		added = append(added, t)
	}
	return added
}
