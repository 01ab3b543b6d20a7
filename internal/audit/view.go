package audit

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/webhook"
)

// View is the cluster as an audit lists it: its Services, indexed by
// namespace and name, and its Nodes, each stripped to what the rules read
// (webhook.StripForView), so that 10,000 Services and 1,000 Nodes take a
// few MiB. It is safe for concurrent reads once built.
type View struct {
	services map[types.NamespacedName]*corev1.Service
	nodes    []*corev1.Node
}

var _ policies.ClusterView = (*View)(nil)

// NewView returns an empty view: no Service and no Node.
func NewView() *View {
	return &View{services: map[types.NamespacedName]*corev1.Service{}}
}

// ListView lists the Services of namespace ("" for all) and every Node,
// page by page, into a view.
func ListView(ctx context.Context, cs kubernetes.Interface, namespace string, pageSize int64) (*View, error) {
	v := NewView()
	services := func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return cs.CoreV1().Services(namespace).List(ctx, o)
	}
	if err := eachPaged(ctx, services, pageSize, func(obj runtime.Object) error {
		v.Add(obj)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing Services: %w", err)
	}
	nodes := func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return cs.CoreV1().Nodes().List(ctx, o)
	}
	if err := eachPaged(ctx, nodes, pageSize, func(obj runtime.Object) error {
		v.Add(obj)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing Nodes: %w", err)
	}
	return v, nil
}

// Add records a stripped copy of obj when it is a Service or a Node.
func (v *View) Add(obj runtime.Object) {
	slim, _ := webhook.StripForView(obj)
	switch o := slim.(type) {
	case *corev1.Service:
		v.services[types.NamespacedName{Namespace: o.Namespace, Name: o.Name}] = o
	case *corev1.Node:
		v.nodes = append(v.nodes, o)
	}
}

// Services returns how many Services the view holds.
func (v *View) Services() int { return len(v.services) }

// Service implements policies.ClusterView: a Service the view does not hold
// does not exist.
func (v *View) Service(_ context.Context, namespace, name string) (*corev1.Service, bool, error) {
	svc, ok := v.services[types.NamespacedName{Namespace: namespace, Name: name}]
	return svc, ok, nil
}

// Nodes implements policies.ClusterView: the listed Nodes, none in a
// cluster without Nodes, as the webhook sees it.
func (v *View) Nodes(context.Context) ([]*corev1.Node, error) { return v.nodes, nil }
