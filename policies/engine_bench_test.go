package policies

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkEvaluate measures the engine alone on a StatefulSet with its
// headless Service, preferred anti-affinity and three Nodes.
func BenchmarkEvaluate(b *testing.B) {
	sts := redisStatefulSet()
	sts.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname",
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "redis"}}}}}}}
	view := engineView{services: []*corev1.Service{headlessService()}, nodes: []*corev1.Node{
		nodeWith("a", map[string]string{"kubernetes.io/hostname": "a"}), nodeWith("b", map[string]string{"kubernetes.io/hostname": "b"}),
		nodeWith("c", map[string]string{"kubernetes.io/hostname": "c"})}}
	e := NewEngine(nil)
	b.ReportAllocs()
	for b.Loop() {
		if r := e.Evaluate(b.Context(), Request{Object: sts, View: view}); len(r.Findings) != 0 {
			b.Fatalf("unexpected findings: %v", r.Findings)
		}
	}
}
