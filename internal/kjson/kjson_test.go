package kjson

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	sigsjson "sigs.k8s.io/json"
)

// TestUnmarshalDecodesAsTheAPIServer compares Unmarshal with the API
// server's own decoder, sigs.k8s.io/json, on inputs where JSON libraries
// disagree.
func TestUnmarshalDecodesAsTheAPIServer(t *testing.T) {
	tests := []struct {
		name string
		json string
	}{
		{"a plain StatefulSet", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","namespace":"data","labels":{"app":"db"}},"spec":{"serviceName":"db","replicas":3}}`},
		{"unknown fields are ignored", `{"kind":"StatefulSet","spec":{"serviceName":"db","newField":{"a":[1,2]}},"status":{"x":1}}`},
		{"field names match case-sensitively, so a capitalised key is unknown", `{"Kind":"StatefulSet","spec":{"ServiceName":"db","serviceName":"real"}}`},
		{"the last of duplicate keys wins", `{"spec":{"serviceName":"first","serviceName":"second"}}`},
		{"null leaves fields empty", `{"metadata":null,"spec":{"selector":null,"replicas":null,"template":{"spec":{"tolerations":null}}}}`},
		{"quantities, int-or-strings and times use their own decoders", `{"metadata":{"creationTimestamp":"2026-11-26T10:00:00Z"},"spec":{"updateStrategy":{"rollingUpdate":{"maxUnavailable":"25%","partition":1}},"template":{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"500m","memory":"1Gi"}},"ports":[{"containerPort":80}],"livenessProbe":{"httpGet":{"port":"http"}}}]}}}}`},
		{"escaped strings are unescaped", `{"metadata":{"name":"a\u0062c","annotations":{"k":"line\nbreak \"quoted\" \u00e9 \ud83d\ude00"}}}`},
		{"invalid UTF-8 becomes the replacement character", "{\"metadata\":{\"annotations\":{\"k\":\"bad \xff byte\"}}}"},
		{"big and negative numbers in int64 fields", `{"spec":{"minReadySeconds":2147483647,"template":{"spec":{"terminationGracePeriodSeconds":-9223372036854775808}}}}`},
		{"volume claim templates with their own metadata", `{"spec":{"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, want appsv1.StatefulSet
			if err := sigsjson.UnmarshalCaseSensitivePreserveInts([]byte(tt.json), &want); err != nil {
				t.Fatalf("sigs.k8s.io/json refused the input: %v", err)
			}
			if err := Unmarshal([]byte(tt.json), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !apiequality.Semantic.DeepEqual(got, want) {
				t.Errorf("Unmarshal decoded\n%#v\nthe API server's decoder\n%#v", got, want)
			}
		})
	}
}

// TestUnmarshalErrorsNameTheField asserts the exact messages: they are
// shown to users by the webhook and the CLI.
func TestUnmarshalErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name      string
		json      string
		wantField string
		want      string
	}{
		{
			name: "a string where a number belongs names the field and both types",
			json: `{"spec":{"replicas":"3"}}`, wantField: "spec.replicas",
			want: "spec.replicas: cannot decode a JSON string into int32",
		},
		{
			name: "a fraction in an integer field shows the number",
			json: `{"spec":{"replicas":1.5}}`, wantField: "spec.replicas",
			want: "spec.replicas: cannot decode a JSON number (1.5) into int32: invalid syntax",
		},
		{
			name: "list indexes are rendered as in field errors",
			json: `{"spec":{"template":{"spec":{"tolerations":[{"key":"a"},{"key":1}]}}}}`, wantField: "spec.template.spec.tolerations[1].key",
			want: "spec.template.spec.tolerations[1].key: cannot decode a JSON number into string",
		},
		{
			name: "a type's own decoder explains its format",
			json: `{"spec":{"template":{"spec":{"containers":[{"resources":{"limits":{"cpu":"lots"}}}]}}}}`, wantField: "spec.template.spec.containers[0].resources.limits.cpu",
			want: "spec.template.spec.containers[0].resources.limits.cpu: cannot decode a JSON string into resource.Quantity: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
		},
		{
			name:      "a quantity with an absurd exponent is refused at once instead of taking practically forever",
			json:      `{"spec":{"template":{"spec":{"containers":[{"resources":{"limits":{"memory":1E999999999999}}}]}}}}`,
			wantField: "spec.template.spec.containers[0].resources.limits.memory",
			want: "spec.template.spec.containers[0].resources.limits.memory: cannot decode a JSON number into resource.Quantity: " +
				`the quantity "1E999999999999" has an exponent of more than 4 digits; write it with a suffix such as Gi, M or m`,
		},
		{
			name:      "a quoted quantity with an absurd exponent is refused too",
			json:      `{"spec":{"template":{"spec":{"containers":[{"resources":{"requests":{"cpu":"5e-000000000099999"}}}]}}}}`,
			wantField: "spec.template.spec.containers[0].resources.requests.cpu",
			want: "spec.template.spec.containers[0].resources.requests.cpu: cannot decode a JSON string into resource.Quantity: " +
				`the quantity "5e-000000000099999" has an exponent of more than 4 digits; write it with a suffix such as Gi, M or m`,
		},
		{
			name: "an object that is not a JSON object names no field",
			json: `"not an object"`, wantField: "",
			want: "cannot decode a JSON string into v1.StatefulSet",
		},
		{
			name: "truncated input says where decoding stopped",
			json: `{"metadata":{"name":"db"},"spec":{"serviceName":"d`, wantField: "spec.serviceName",
			want: "spec.serviceName: invalid JSON: unexpected EOF after byte 50",
		},
		{
			name: "a key escaped per RFC 6901 is unescaped in the path",
			json: `{"metadata":{"labels":{"app.kubernetes.io/name":1}}}`, wantField: "metadata.labels.app.kubernetes.io/name",
			want: "metadata.labels.app.kubernetes.io/name: cannot decode a JSON number into string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sts appsv1.StatefulSet
			err := Unmarshal([]byte(tt.json), &sts)
			var e *Error
			if err == nil || !asError(err, &e) {
				t.Fatalf("got %v (%T), want an *Error", err, err)
			}
			if e.Field != tt.wantField || err.Error() != tt.want {
				t.Errorf("got field %q, error\n%s\nwant field %q, error\n%s", e.Field, err, tt.wantField, tt.want)
			}
		})
	}
}

func asError(err error, e **Error) bool {
	var ok bool
	*e, ok = err.(*Error)
	return ok
}

func TestFieldPath(t *testing.T) {
	tests := []struct{ pointer, want string }{
		{"", ""},
		{"/spec", "spec"},
		{"/spec/containers/0/ports/12/name", "spec.containers[0].ports[12].name"},
		{"/metadata/annotations/a~1b~0c", "metadata.annotations.a/b~c"},
		{"/0", "0"},
	}
	for _, tt := range tests {
		if got := FieldPath(tt.pointer); got != tt.want {
			t.Errorf("FieldPath(%q) = %q, want %q", tt.pointer, got, tt.want)
		}
	}
}
