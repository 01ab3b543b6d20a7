package fidelity

import (
	"slices"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/setwarden/setwarden/policies"
)

// TestControllerPodsRefusedForMatchLabelKeys: a Deployment whose pod
// affinity names in matchLabelKeys a key its labelSelector already has is
// admitted by the API server, and a Pod made from its template is refused;
// setwarden's affinity-invalid finding on the Deployment quotes the Pod's
// error word for word.
func TestControllerPodsRefusedForMatchLabelKeys(t *testing.T) {
	c := apiServer(t)
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}},
			Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					TopologyKey:    "kubernetes.io/hostname",
					MatchLabelKeys: []string{"pod-template-hash", "app"},
				}},
			}},
		},
	}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: Namespace},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template,
		},
	}
	server, err := serverCauses(t.Context(), c, deploy.DeepCopy())
	if err != nil || len(server) != 0 {
		t.Fatalf("the API server refused the Deployment: %v %v", server, err)
	}
	pod := &corev1.Pod{ObjectMeta: template.ObjectMeta, Spec: template.Spec}
	pod.Name, pod.Namespace = "web-0", Namespace
	podCauses, err := serverCauses(t.Context(), c, pod)
	if err != nil || len(podCauses) != 1 {
		t.Fatalf("want the Pod refused with one error, got %v %v", podCauses, err)
	}
	podErr := podCauses[0].Field + ": " + podCauses[0].Message
	var findings []string
	report := policies.NewEngine(nil).Evaluate(t.Context(), policies.Request{Object: deploy, Mode: policies.ModeOffline})
	for _, f := range report.Findings {
		if f.Rule == policies.RuleAffinityInvalid {
			findings = append(findings, f.Message())
		}
	}
	want := "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0][1]: Invalid value: \"app\": " +
		"the Deployment is admitted, but the API server refuses every Pod created from it with " + strconv.Quote(podErr) +
		", because it adds app In (the pod's value) to the labelSelector for matchLabelKeys; remove \"app\" from matchLabelKeys or from the labelSelector"
	if !slices.Equal(findings, []string{want}) {
		t.Errorf("affinity-invalid findings on the Deployment:\n%q\nwant:\n%q", findings, []string{want})
	}
}
