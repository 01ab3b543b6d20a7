package policies

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// deploymentWith returns a Deployment "web" in namespace "apps" whose pod
// template has the given spec and labels app=web.
func deploymentWith(replicas int32, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       spec,
			},
		},
	}
}

// inputFor builds the Input a rule sees for obj, with the given nodes and
// the default config.
func inputFor(t *testing.T, obj runtime.Object, nodes ...*corev1.Node) *Input {
	t.Helper()
	w, ok := NewWorkload(obj)
	if !ok {
		t.Fatalf("%T is not a workload", obj)
	}
	return &Input{Workload: w, Config: DefaultConfig(), Nodes: nodes}
}

// assertErrors compares field errors by type, field, bad value and detail.
func assertErrors(t *testing.T, got, want field.ErrorList) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *field.Error) bool {
		return a.Type == b.Type && a.Field == b.Field && a.Detail == b.Detail &&
			cmp.Equal(a.BadValue, b.BadValue)
	})); diff != "" {
		t.Errorf("field errors differ (-want +got):\n%s", diff)
	}
}

// nodeWith returns a Node with the given name, labels and taints.
func nodeWith(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: taints},
	}
}
