package manifest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// deployment is a Deployment whose pod spec is podSpec, indented by 6.
func deployment(podSpec string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n" +
		"  template:\n    metadata:\n      labels: {app: web}\n    spec:\n" + podSpec + "      containers:\n        - {name: web, image: nginx}\n"
}

const affinity = "      affinity:\n        %s:\n          requiredDuringSchedulingIgnoredDuringExecution: []\n"

func TestDecodeReportsUnknownAndDuplicateFields(t *testing.T) {
	statefulSet := "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  %s: db\n  selector:\n    matchLabels: {app: db}\n" +
		"  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n        - {name: db, image: postgres}\n"
	tests := []struct {
		name string
		file string // in.yaml unless set
		doc  string
		want [][]string // each document's FieldErrors, rendered
	}{
		{
			name: "a misspelled nodeAffinity is an unknown field with the field it was meant to be",
			doc:  deployment(fmt.Sprintf(affinity, "nodeAfinity")),
			want: [][]string{{`spec.template.spec.affinity.nodeAfinity: Forbidden: unknown field; did you mean "nodeAffinity"?`}},
		},
		{
			name: "a misspelled podAntiAffinity is an unknown field with the field it was meant to be",
			doc:  deployment(fmt.Sprintf(affinity, "podAntiAfinity")),
			want: [][]string{{`spec.template.spec.affinity.podAntiAfinity: Forbidden: unknown field; did you mean "podAntiAffinity"?`}},
		},
		{
			name: "a misspelled nodeSelector is an unknown field of the pod spec",
			doc:  deployment("      nodeSelecter: {disktype: ssd}\n"),
			want: [][]string{{`spec.template.spec.nodeSelecter: Forbidden: unknown field; did you mean "nodeSelector"?`}},
		},
		{
			name: "a misspelled tolerations list is an unknown field of the pod spec",
			doc:  deployment("      tolerationz:\n        - {key: gpu, operator: Exists}\n"),
			want: [][]string{{`spec.template.spec.tolerationz: Forbidden: unknown field; did you mean "tolerations"?`}},
		},
		{
			name: "volumeClaimTemplate without its s is an unknown field of the StatefulSet spec",
			doc:  fmt.Sprintf(statefulSet, "serviceName: db\n  volumeClaimTemplate: []\n  x"),
			want: [][]string{{
				`spec.volumeClaimTemplate: Forbidden: unknown field; did you mean "volumeClaimTemplates"?`,
				`spec.x: Forbidden: unknown field`,
			}},
		},
		{
			name: "a misspelled serviceName is an unknown field of the StatefulSet spec",
			doc:  fmt.Sprintf(statefulSet, "serviceNme"),
			want: [][]string{{`spec.serviceNme: Forbidden: unknown field; did you mean "serviceName"?`}},
		},
		{
			name: "a duplicated metadata key is reported once, with the lines of both",
			doc:  "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers: [{name: a, image: a}]\nmetadata:\n  name: b\n",
			want: [][]string{{`metadata: Forbidden: duplicate field, at lines 3 and 7`}},
		},
		{
			name: "a duplicated label key is a map entry, and the later wins as before",
			doc:  "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels:\n    app: a\n    app: b\nspec:\n  containers: [{name: a, image: a}]\n",
			want: [][]string{{`metadata.labels[app]: Forbidden: duplicate field, at lines 6 and 7`}},
		},
		{
			name: "a field whose name differs only in case is unknown, as the API server matches names case-sensitively",
			doc:  "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nSpec:\n  clusterIP: None\n",
			want: [][]string{{`Spec: Forbidden: unknown field; did you mean "spec"?`}},
		},
		{
			name: "a field far from every known name has no suggestion",
			doc:  "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\nspec:\n  taints: []\n  colour: blue\n",
			want: [][]string{{`spec.colour: Forbidden: unknown field`}},
		},
		{
			name: "the fields of a kind setwarden does not decode are not judged",
			doc:  "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  name: w2\nspec:\n  nodeAfinity: {}\n",
			want: [][]string{nil},
		},
		{
			name: "an unknown field of a List item is reported on the item, with the item's path",
			doc: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n" +
				"- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  spec:\n    containers: [{name: b, image: b, imagePullPolicyy: Always}]\n",
			want: [][]string{nil, {`spec.containers[0].imagePullPolicyy: Forbidden: unknown field; did you mean "imagePullPolicy"?`}},
		},
		{
			name: "JSON input reports unknown fields and duplicate names with their lines",
			file: "in.json",
			doc: "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"a\"},\n" +
				"  \"spec\": {\"containers\": [{\"name\": \"a\", \"image\": \"a\"}], \"nodeSelecter\": {}},\n  \"metadata\": {\"name\": \"b\"}\n}\n",
			want: [][]string{{
				`spec.nodeSelecter: Forbidden: unknown field; did you mean "nodeSelector"?`,
				`metadata: Forbidden: duplicate field, at lines 4 and 6`,
			}},
		},
		{
			name: "the fields of inlined structs and of types that decode themselves are known",
			doc: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  creationTimestamp: null\nspec:\n" +
				"  containers: [{name: a, image: a, resources: {limits: {cpu: 500m}}, ports: [{containerPort: 80}]}]\n",
			want: [][]string{nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "in.yaml"
			}
			r := &Reader{Virtual: map[string][]byte{file: []byte(tt.doc)}}
			b := r.Read(t.Context(), []string{file})
			if len(b.Errors) > 0 || len(b.Documents) != len(tt.want) {
				t.Fatalf("Read() = %+v, want %d documents and no errors", flatten(b), len(tt.want))
			}
			got := make([][]string, len(b.Documents))
			for i, d := range b.Documents {
				for _, err := range d.FieldErrors {
					got[i] = append(got[i], err.Error())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FieldErrors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
