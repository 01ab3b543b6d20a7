package manifest

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
)

const (
	jsonStatefulSet = `{"apiVersion": "apps/v1", "kind": "StatefulSet",
  "metadata": {"name": "redis", "namespace": "data"},
  "spec": {"serviceName": "redis", "replicas": 3, "selector": {"matchLabels": {"app": "redis"}},
    "template": {"metadata": {"labels": {"app": "redis"}}, "spec": {"containers": [{"name": "redis", "image": "redis:8"}]}}}}`
	jsonService    = `{"apiVersion":"v1","kind":"Service","metadata":{"name":"redis","namespace":"data"},"spec":{"clusterIP":"None","selector":{"app":"redis"}}}`
	jsonDeployment = `{
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {"name": "web"},
  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
}`
	jsonList = `{"apiVersion": "v1", "kind": "List", "items": [` + jsonService + `, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}]}`
)

// TestJSONDocumentsSeparatedLikeYAML reads streams of JSON objects, some
// separated by "---" lines, as kubectl apply -f reads them with
// apimachinery's YAMLOrJSONDecoder: the same objects, in the same order,
// from standard input and from a .json file.
func TestJSONDocumentsSeparatedLikeYAML(t *testing.T) {
	tests := []struct {
		name     string
		stream   string
		wantDocs int
		wantErr  bool // kubectl's decoder and ours both fail after wantDocs objects
	}{
		{name: "two JSON objects separated by ---", stream: jsonStatefulSet + "\n---\n" + jsonService + "\n", wantDocs: 2},
		{name: "three JSON objects separated by ---, the last without a newline", stream: jsonStatefulSet + "\n---\n" + jsonService + "\n---\n" + jsonDeployment, wantDocs: 3},
		{name: "one object per line, separated by ---", stream: jsonService + "\n---\n" + jsonService + "\n---\n" + jsonService + "\n", wantDocs: 3},
		{name: "a separator with a comment and blank lines", stream: "\n" + jsonDeployment + "\n\n--- # next\n\n" + jsonStatefulSet + "\n---\n", wantDocs: 2},
		{name: "a List among the documents", stream: jsonDeployment + "\n---\n" + jsonList + "\n", wantDocs: 3},
		{name: "a JSON object then YAML", stream: jsonService + "\n---\n" + stsYAML, wantDocs: 2},
		{name: "a plain JSON stream without separators", stream: jsonStatefulSet + "\n" + jsonService + "\n" + jsonDeployment + "\n", wantDocs: 3},
		{name: "two JSON objects and then a separator: the stream is JSON, and fails", stream: jsonStatefulSet + "\n" + jsonService + "\n---\n" + jsonDeployment + "\n", wantDocs: 2, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, kubectlErr := kubectlDecode(t, tt.stream)
			if (kubectlErr != nil) != tt.wantErr || len(flattenLists(want)) != tt.wantDocs {
				t.Fatalf("kubectl's decoder read %d objects and error %v; the case expects %d and error %v", len(flattenLists(want)), kubectlErr, tt.wantDocs, tt.wantErr)
			}
			for _, path := range []string{StdinPath, "in.json", "in.yaml"} {
				r := &Reader{Stdin: strings.NewReader(tt.stream), Virtual: map[string][]byte{path: []byte(tt.stream)}}
				b := r.Read(t.Context(), []string{path})
				if (len(b.Errors) > 0) != tt.wantErr {
					t.Errorf("%s: errors %v, want an error: %v", path, flatten(b).Errors, tt.wantErr)
				}
				want := flattenLists(want)
				if len(b.Documents) != len(want) {
					t.Fatalf("%s: read %d objects, want %d as kubectl: %+v", path, len(b.Documents), len(want), flatten(b))
				}
				for i, doc := range b.Documents {
					if doc.APIVersion != want[i]["apiVersion"] || doc.Kind != want[i]["kind"] {
						t.Errorf("%s: object %d is %s %s, kubectl's %v %v", path, i, doc.APIVersion, doc.Kind, want[i]["apiVersion"], want[i]["kind"])
						continue
					}
					if doc.Object == nil { // a kind the reader only counts
						continue
					}
					// kubectl's object, converted to the type the reader decoded.
					obj := reflect.New(reflect.TypeOf(doc.Object).Elem()).Interface().(runtime.Object)
					if err := runtime.DefaultUnstructuredConverter.FromUnstructured(want[i], obj); err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(obj, doc.Object); diff != "" {
						t.Errorf("%s: object %d differs from kubectl's (-kubectl +ours):\n%s", path, i, diff)
					}
				}
			}
		})
	}
}

// kubectlDecode reads stream with kubectl's decoder, up to its first error.
func kubectlDecode(t *testing.T, stream string) ([]map[string]any, error) {
	t.Helper()
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(stream)), 4096)
	var objs []map[string]any
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return objs, err
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
}

// flattenLists returns objs with each List replaced by its items.
func flattenLists(objs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		items, ok := o["items"].([]any)
		if !ok || o["kind"] != "List" {
			out = append(out, o)
			continue
		}
		for _, it := range items {
			out = append(out, it.(map[string]any))
		}
	}
	return out
}
