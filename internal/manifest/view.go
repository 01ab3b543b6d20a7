package manifest

import (
	"bytes"
	"context"
	"strings"

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
// Node. A YAML document's kind is read from its one top-level "kind:" line;
// for other documents (JSON, flow style, a second "kind:" line, a kind that
// is not a plain word) the words are searched for in the whole text, which
// lets through a few workloads that mention them: that costs time, not
// correctness.
func MayHoldViewObjects(raw []byte) bool {
	if kind, ok := topLevelKind(raw); ok {
		return kind == "Service" || kind == "Node" || strings.HasSuffix(kind, "List")
	}
	return bytes.Contains(raw, []byte("Service")) || bytes.Contains(raw, []byte("Node")) ||
		bytes.Contains(raw, []byte("List"))
}

// topLevelKind returns the value of the only line of a YAML document that
// starts with "kind:", when it is a plain word; false when there is no
// such line or more than one, or another line may set the kind (a quoted
// or explicit key at the start of a line).
func topLevelKind(raw []byte) (string, bool) {
	var kind []byte
	found := false
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		switch {
		case bytes.HasPrefix(line, []byte("kind:")):
			if found || len(line) > len("kind:") && line[len("kind:")] != ' ' {
				return "", false // "kind:x" is a scalar, not a key
			}
			found = true
			kind = line[len("kind:"):]
			if i := bytes.Index(kind, []byte(" #")); i >= 0 {
				kind = kind[:i]
			}
			kind = bytes.TrimSpace(kind)
		case len(line) > 0 && (line[0] == '"' || line[0] == '\'' || line[0] == '?' || line[0] == '{'):
			return "", false
		}
	}
	if !found || len(kind) == 0 {
		return "", false
	}
	for _, c := range kind {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "", false
		}
	}
	return string(kind), true
}

// Service implements policies.ClusterView; a Service missing from the input
// is reported as not found.
func (v *View) Service(_ context.Context, namespace, name string) (*corev1.Service, bool, error) {
	svc, ok := v.services[types.NamespacedName{Namespace: namespaceOrDefault(namespace), Name: name}]
	return svc, ok, nil
}

// Nodes implements policies.ClusterView. It returns an error matching
// policies.ErrNoData when the input holds no Node at all.
func (v *View) Nodes(context.Context) ([]*corev1.Node, error) {
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
