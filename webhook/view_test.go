package webhook

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStripForView(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "n", Namespace: "ns", ResourceVersion: "7", Labels: map[string]string{"a": "b"},
		Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
	slim := metav1.ObjectMeta{Name: "n", Namespace: "ns", ResourceVersion: "7", Labels: map[string]string{"a": "b"}}
	tests := []struct {
		name string
		in   any
		want any
	}{
		{
			name: "a Service keeps only its selector, type and cluster IP",
			in: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"},
				Ports: []corev1.ServicePort{{Port: 5432}}}, Status: corev1.ServiceStatus{Conditions: []metav1.Condition{{Type: "x"}}}},
			want: &corev1.Service{ObjectMeta: slim, Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}}},
		},
		{
			name: "a Node keeps only its labels, taints and unschedulable flag",
			in: &corev1.Node{ObjectMeta: meta, Spec: corev1.NodeSpec{Unschedulable: true, PodCIDR: "10.0.0.0/24",
				Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}},
				Status: corev1.NodeStatus{Images: []corev1.ContainerImage{{Names: []string{"big"}}}}},
			want: &corev1.Node{ObjectMeta: slim, Spec: corev1.NodeSpec{Unschedulable: true,
				Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}}},
		},
		{name: "other objects pass through", in: &corev1.Pod{ObjectMeta: meta}, want: &corev1.Pod{ObjectMeta: meta}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StripForView(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
