package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
)

// TestDecodeErrorMessages pins the messages of objects that do not decode:
// the full field path, as in the API server's field errors, and what was
// found where what was expected.
func TestDecodeErrorMessages(t *testing.T) {
	const deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	const podSpec = "spec:\n  template:\n    spec:\n      containers:\n      - name: a\n      - name: b\n"
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{
			name: "a string where a number belongs names the field and both types",
			doc:  deploy + "spec:\n  replicas: \"3\"\n",
			want: `Deployment web: spec.replicas: cannot decode a JSON string into int32`,
		},
		{
			name: "a number too large for the field is quoted",
			doc:  deploy + "spec:\n  replicas: 3000000000\n",
			want: `Deployment web: spec.replicas: cannot decode a JSON number (3000000000) into int32: value out of range`,
		},
		{
			name: "a fraction where an integer belongs is quoted",
			doc:  `{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1.5}}`,
			want: `Deployment web: spec.replicas: cannot decode a JSON number (1.5) into int32: invalid syntax`,
		},
		{
			name: "a field inside a list is named with its index",
			doc:  deploy + podSpec + "        ports:\n        - containerPort: http\n",
			want: `Deployment web: spec.template.spec.containers[1].ports[0].containerPort: cannot decode a JSON string into int32`,
		},
		{
			name: "a map value is named by its key",
			doc:  deploy + "  labels:\n    app: {name: web}\n",
			want: `Deployment web: metadata.labels.app: cannot decode a JSON object into string`,
		},
		{
			name: "a field of an inlined struct is named by its JSON path",
			doc:  deploy + "spec:\n  template:\n    spec:\n      volumes:\n      - name: data\n        hostPath: /data\n",
			want: `Deployment web: spec.template.spec.volumes[0].hostPath: cannot decode a JSON string into v1.HostPathVolumeSource`,
		},
		{
			name: "a list where an object belongs names the Go type",
			doc:  deploy + "spec: []\n",
			want: `Deployment web: spec: cannot decode a JSON array into v1.DeploymentSpec`,
		},
		{
			name: "an invalid quantity names the field and shows the quantity's own error",
			doc:  deploy + podSpec + "        resources:\n          limits:\n            cpu: lots\n",
			want: `Deployment web: spec.template.spec.containers[1].resources.limits.cpu: cannot decode a JSON string into resource.Quantity: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
		},
		{
			name: "a boolean int-or-string names the field",
			doc:  deploy + "spec:\n  strategy:\n    rollingUpdate:\n      maxSurge: true\n",
			want: `Deployment web: spec.strategy.rollingUpdate.maxSurge: cannot decode a JSON boolean into intstr.IntOrString: json: cannot unmarshal bool into Go value of type int32`,
		},
		{
			name: "an invalid timestamp names the field and shows the time parser's error",
			doc:  deploy + "  creationTimestamp: yesterday\n",
			want: `Deployment web: metadata.creationTimestamp: cannot decode a JSON string into v1.Time: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`,
		},
		{
			name: "a header field of the wrong type names the header field",
			doc:  "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a]\n",
			want: `not a Kubernetes object: metadata.name: cannot decode a JSON array into string`,
		},
		{
			name: "header names differing in case are not the header, as for the API server",
			doc:  "APIVersion: v1\nKind: Pod\nmetadata:\n  name: p\n",
			want: `not a Kubernetes object: apiVersion and kind are required`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := readString(t, tt.doc)
			var got []string
			for _, p := range b.Errors {
				got = append(got, p.Message)
			}
			if diff := cmp.Diff([]string{tt.want}, got); diff != "" || len(b.Documents) > 0 {
				t.Errorf("errors mismatch (-want +got):\n%s\ndocuments: %+v", diff, b.Documents)
			}
		})
	}
}

// readString reads doc as the file in.yaml.
func readString(t *testing.T, doc string) *Bundle {
	t.Helper()
	r := &Reader{Virtual: map[string][]byte{"in.yaml": []byte(doc)}}
	return r.Read(t.Context(), []string{"in.yaml"})
}

func TestDecodeMatchesFieldNamesCaseSensitively(t *testing.T) {
	b := readString(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  Namespace: prod\n"+
		"Spec:\n  replicas: 3\nspec:\n  Replicas: 4\n  minReadySeconds: 5\n")
	if len(b.Errors) > 0 || len(b.Documents) != 1 {
		t.Fatalf("Read() = %+v, want one document", flatten(b))
	}
	d := b.Documents[0].Object.(*appsv1.Deployment)
	if d.Spec.Replicas != nil || d.Namespace != "" || b.Documents[0].Namespace != "" || d.Spec.MinReadySeconds != 5 {
		t.Errorf("decoded replicas %v, namespace %q (header %q), minReadySeconds %d; want nil, \"\", \"\", 5: Spec, Replicas and Namespace are unknown fields",
			d.Spec.Replicas, d.Namespace, b.Documents[0].Namespace, d.Spec.MinReadySeconds)
	}
}
