package perf

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The native arm's object names.
const (
	nativeValidatingName = "setwarden-statefulset"
	nativeMutatingName   = "setwarden-agent-tolerations"
)

// nativeMissingTolerations lists the control-plane taint keys an agent
// DaemonSet does not tolerate whatever the taint's value is: a toleration
// covers a key when it is `operator: Exists` for that key (or for every key,
// with no key) with no effect or NoSchedule, as policies.tolerationsCover
// decides with Kubernetes' own matching.
const nativeMissingTolerations = `["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"].filter(k,
  !variables.tolerations.exists(t,
    has(t.operator) && t.operator == "Exists" &&
    (!has(t.key) || t.key == "" || t.key == k) &&
    (!has(t.effect) || t.effect == "" || t.effect == "NoSchedule")))`

// nativeTolerationsPatch adds the missing tolerations with JSON Patch: an
// ApplyConfiguration may not mutate the atomic tolerations list. A list
// that exists gets one append per toleration; a missing list is created.
const nativeTolerationsPatch = `size(variables.missing) == 0 ? [] :
  has(object.spec.template.spec.tolerations) ?
    variables.missing.map(k, JSONPatch{op: "add", path: "/spec/template/spec/tolerations/-",
      value: Object.spec.template.spec.tolerations{key: k, operator: "Exists", effect: "NoSchedule"}}) :
    [JSONPatch{op: "add", path: "/spec/template/spec/tolerations",
      value: variables.missing.map(k, Object.spec.template.spec.tolerations{key: k, operator: "Exists", effect: "NoSchedule"})}]`

// nativePolicies returns the ValidatingAdmissionPolicy and
// MutatingAdmissionPolicy (with their bindings) that do what setwarden's
// two headline rules do: deny a StatefulSet without serviceName or
// volumeClaimTemplates, and add the control-plane tolerations to agent
// DaemonSets. They match the namespaces setwarden's webhooks match.
func nativePolicies(namespaces *metav1.LabelSelector) []client.Object {
	fail, ignore := admissionregistrationv1.Fail, admissionregistrationv1.Ignore
	rule := func(resource string) []admissionregistrationv1.NamedRuleWithOperations {
		return []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{resource}},
		}}}
	}
	return []client.Object{
		&admissionregistrationv1.ValidatingAdmissionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: nativeValidatingName},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				FailurePolicy:    &fail,
				MatchConstraints: &admissionregistrationv1.MatchResources{NamespaceSelector: namespaces, ResourceRules: rule("statefulsets")},
				Validations: []admissionregistrationv1.Validation{{
					Expression: `has(object.spec.serviceName) && object.spec.serviceName != ""`,
					Message:    "spec.serviceName: Required value: set it to a headless Service that selects the pods",
				}, {
					Expression: `has(object.spec.volumeClaimTemplates) && size(object.spec.volumeClaimTemplates) > 0`,
					Message:    "spec.volumeClaimTemplates: Required value: add a volumeClaimTemplate so each pod gets a PersistentVolumeClaim",
				}},
			},
		},
		&admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: nativeValidatingName},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: nativeValidatingName,
				ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}},
		},
		&admissionregistrationv1.MutatingAdmissionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: nativeMutatingName},
			Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
				// Ignore, as setwarden's mutating webhook.
				FailurePolicy:      &ignore,
				ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
				MatchConstraints: &admissionregistrationv1.MatchResources{NamespaceSelector: namespaces, ResourceRules: rule("daemonsets"),
					ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"setwarden.dev/agent": "true"}}},
				Variables: []admissionregistrationv1.Variable{
					{Name: "tolerations", Expression: `has(object.spec.template.spec.tolerations) ? object.spec.template.spec.tolerations : []`},
					{Name: "missing", Expression: nativeMissingTolerations},
				},
				Mutations: []admissionregistrationv1.Mutation{{PatchType: admissionregistrationv1.PatchTypeJSONPatch,
					JSONPatch: &admissionregistrationv1.JSONPatch{Expression: nativeTolerationsPatch}}},
			},
		},
		&admissionregistrationv1.MutatingAdmissionPolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: nativeMutatingName},
			Spec:       admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: nativeMutatingName},
		},
	}
}
