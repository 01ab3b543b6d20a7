package manifest

import (
	"errors"
	"slices"
	"testing"

	"github.com/setwarden/setwarden/policies"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func viewService(namespace, name, clusterIP string) Document {
	return Document{Kind: "Service", Object: &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: clusterIP},
	}}
}

func viewNode(name string) Document {
	return Document{Kind: "Node", Object: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}}
}

func TestViewService(t *testing.T) {
	docs := []Document{
		viewService("data", "redis", "None"),
		viewService("", "web", "10.0.0.1"),
		viewService("data", "dup", "10.0.0.2"),
		viewService("data", "dup", "None"),
		{Kind: "ConfigMap"}, // untyped objects are ignored
	}
	tests := []struct {
		name          string
		namespace     string
		svcName       string
		wantFound     bool
		wantClusterIP string
	}{
		{name: "a Service in the input is found in its namespace", namespace: "data", svcName: "redis", wantFound: true, wantClusterIP: "None"},
		{name: "a Service with no namespace is found in default", namespace: "default", svcName: "web", wantFound: true, wantClusterIP: "10.0.0.1"},
		{name: "an empty namespace in the lookup means default", namespace: "", svcName: "web", wantFound: true, wantClusterIP: "10.0.0.1"},
		{name: "a Service of the same name in another namespace is not found", namespace: "other", svcName: "redis"},
		{name: "a Service that is not in the input does not exist", namespace: "data", svcName: "missing"},
		{name: "when a Service appears twice the last one wins", namespace: "data", svcName: "dup", wantFound: true, wantClusterIP: "None"},
	}
	v := NewView(docs)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, found, err := v.Service(t.Context(), tt.namespace, tt.svcName)
			if err != nil {
				t.Fatalf("Service() error = %v, want nil: the input is the whole world offline", err)
			}
			if found != tt.wantFound {
				t.Fatalf("Service() found = %v, want %v", found, tt.wantFound)
			}
			if found && svc.Spec.ClusterIP != tt.wantClusterIP {
				t.Errorf("Service() clusterIP = %q, want %q", svc.Spec.ClusterIP, tt.wantClusterIP)
			}
			if !found && svc != nil {
				t.Errorf("Service() = %v, want nil when not found", svc)
			}
		})
	}
}

func TestViewNodes(t *testing.T) {
	tests := []struct {
		name      string
		docs      []Document
		wantNames []string
		wantErr   string
	}{
		{
			name:    "an input without any Node has no node data",
			docs:    []Document{viewService("data", "redis", "None")},
			wantErr: "no Nodes in the input",
		},
		{
			name:      "the Nodes of the input are listed in input order",
			docs:      []Document{viewNode("worker-b"), viewService("data", "redis", "None"), viewNode("worker-a")},
			wantNames: []string{"worker-b", "worker-a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := NewView(tt.docs).Nodes(t.Context())
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, policies.ErrNoData) {
					t.Fatalf("Nodes() error = %v, want %q matching policies.ErrNoData", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Nodes() error = %v", err)
			}
			var names []string
			for _, n := range nodes {
				names = append(names, n.Name)
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("Nodes() = %v, want %v", names, tt.wantNames)
			}
		})
	}
}

func TestMayHoldViewObjects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{name: "a Service is kept", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: db}\n", want: true},
		{name: "a Node is kept", doc: "kind: Node # a worker\napiVersion: v1\n", want: true},
		{name: "a List is kept for its items", doc: "apiVersion: v1\nkind: List\nitems: []\n", want: true},
		{name: "a ServiceList is kept", doc: "apiVersion: v1\nkind: ServiceList\nitems: []\n", want: true},
		{name: "a workload that mentions Services and Nodes is skipped by its kind",
			doc: "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      enableServiceLinks: false\n" +
				"      volumes:\n        - name: x\n          ephemeral:\n            volumeClaimTemplate:\n              kind: Service\n" +
				"      nodeSelector: {role: Node}\n", want: false},
		{name: "a ServiceAccount is skipped", doc: "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: Service}\n", want: false},
		{name: "a ServiceMonitor is skipped", doc: "kind: ServiceMonitor\nspec: {selector: {matchLabels: {app: Node}}}\n", want: false},
		{name: "a JSON Service is kept by its words", doc: `{"apiVersion":"v1","kind":"Service"}`, want: true},
		{name: "a JSON Deployment without the words is skipped", doc: `{"apiVersion":"apps/v1","kind":"Deployment"}`, want: false},
		{name: "a quoted kind is read from the words", doc: "apiVersion: v1\nkind: \"Service\"\n", want: true},
		{name: "a second kind line sends the document to the words", doc: "description: \"x\nkind: Deployment\"\nkind: Service\n", want: true},
		{name: "a quoted kind key sends the document to the words", doc: "kind: Deployment\n\"kind\": Service\n", want: true},
		{name: "a flow mapping over several lines is read from the words", doc: "{apiVersion: v1,\nkind: Pod, x: Service}\n", want: true},
		{name: "a document without the words is skipped whatever its form", doc: "{apiVersion: v1,\nkind: Pod}\n", want: false},
		{name: "a kind line without a space is not a key, so the words decide", doc: "kind:Deployment\nx: Service\n", want: true},
		{name: "a kind line with a carriage return is read", doc: "apiVersion: v1\r\nkind: ConfigMap\r\ndata: {a: Service}\r\n", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MayHoldViewObjects([]byte(tt.doc)); got != tt.want {
				t.Errorf("MayHoldViewObjects(%q) = %v, want %v", tt.doc, got, tt.want)
			}
		})
	}
}
