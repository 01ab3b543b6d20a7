package webhook

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllertest"
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

// countingReader counts the Lists that reach the cache.
type countingReader struct {
	client.Reader
	lists int
}

func (r *countingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	r.lists++
	return r.Reader.List(ctx, list, opts...)
}

func TestNodesAreListedAgainOnlyAfterANodeChanges(t *testing.T) {
	node := func(name string) *corev1.Node { return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	reader := &countingReader{Reader: fake.NewClientBuilder().WithObjects(node("a")).Build()}
	view := &CacheView{Cache: reader}
	names := func() []string {
		t.Helper()
		nodes, err := view.For(t.Context()).Nodes()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range nodes {
			names = append(names, n.Name)
		}
		return names
	}

	names()
	names()
	if reader.lists != 2 {
		t.Fatalf("without a watch every request must list: %d lists, want 2", reader.lists)
	}
	informer := &controllertest.FakeInformer{}
	if err := view.WatchNodes(informer); err != nil {
		t.Fatal(err)
	}
	names()
	names()
	if reader.lists != 3 {
		t.Errorf("with a watch and no Node event: %d lists, want 3", reader.lists)
	}
	if err := reader.Reader.(client.Client).Create(t.Context(), node("b")); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("before the informer reports it, got %v, want the snapshot [a]", got)
	}
	informer.Add(node("b"))
	if got := names(); !slices.Equal(got, []string{"a", "b"}) || reader.lists != 4 {
		t.Errorf("after the Add event got %v in %d lists, want [a b] in 4", got, reader.lists)
	}
	informer.Delete(node("b"))
	names()
	if reader.lists != 5 {
		t.Errorf("a Delete event must invalidate the snapshot: %d lists, want 5", reader.lists)
	}
}
