package manifest

import (
	"bytes"

	"github.com/setwarden/setwarden/policies"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// View is the cluster as the offline check sees it: the Services and Nodes in
// its input. The input is the whole world offline, so a Service that is not
// in it does not exist; but an input without any Node says nothing about the
// cluster's nodes, so rules that read Nodes are skipped rather than told that
// the cluster is empty.
type View struct {
	services map[types.NamespacedName]*corev1.Service
	nodes    []*corev1.Node
}

var _ policies.ClusterView = (*View)(nil)

// errNoNodes is the reason node-aware rules are skipped offline.
type errNoNodes struct{}

func (errNoNodes) Error() string { return "no Nodes in the input" }

// Is makes the error match policies.ErrNoData.
func (errNoNodes) Is(target error) bool { return target == policies.ErrNoData }

// NewView builds the view from the Services and Nodes among docs. When a
// Service appears twice, the last one wins, as with kubectl apply.
func NewView(docs []Document) *View {
	v := &View{services: map[types.NamespacedName]*corev1.Service{}}
	for i := range docs {
		v.Add(&docs[i])
	}
	return v
}

// Add records doc when it is a Service or a Node. Only these are kept, so
// the view's memory grows with the cluster's size, not the input's.
func (v *View) Add(doc *Document) {
	switch o := doc.Object.(type) {
	case *corev1.Service:
		v.services[types.NamespacedName{Namespace: namespaceOrDefault(o.Namespace), Name: o.Name}] = o
	case *corev1.Node:
		v.nodes = append(v.nodes, o)
	}
}

// MayHoldViewObjects is a Visitor.Filter for the indexing pass: it rejects,
// without decoding them, the documents that cannot be or hold a Service or a
// Node. The kind is a word of the text, so a plain search is enough; it
// lets through a few workloads that mention the words, which costs time,
// not correctness.
func MayHoldViewObjects(raw []byte) bool {
	return bytes.Contains(raw, []byte("Service")) || bytes.Contains(raw, []byte("Node")) ||
		bytes.Contains(raw, []byte("List"))
}

// Service implements policies.ClusterView; a Service missing from the input
// is reported as not found.
func (v *View) Service(namespace, name string) (*corev1.Service, bool, error) {
	svc, ok := v.services[types.NamespacedName{Namespace: namespaceOrDefault(namespace), Name: name}]
	return svc, ok, nil
}

// Nodes implements policies.ClusterView. It returns an error matching
// policies.ErrNoData when the input holds no Node at all.
func (v *View) Nodes() ([]*corev1.Node, error) {
	if len(v.nodes) == 0 {
		return nil, errNoNodes{}
	}
	return v.nodes, nil
}

func namespaceOrDefault(ns string) string {
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}
