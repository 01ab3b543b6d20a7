package kjson

import (
	"errors"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"
)

// decodeDifferentialCases are JSON objects at the edges where decoders
// differ; each is decoded as a Deployment, a Pod and a Service.
var decodeDifferentialCases = []string{
	`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":3}}`,
	`{"metadata":{"name":null,"labels":null,"annotations":{"a":null}},"spec":{"replicas":null,"paused":null,"selector":null,"template":null}}`,
	`{"metadata":{"name":"a","name":null,"namespace":"x","namespace":"y"}}`,
	`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x"}],"containers":[{"name":"b"}]}}}}`,
	`{"spec":{"template":{"spec":{"nodeSelector":{"a":"b","a":"c"},"nodeSelector":{"d":"e"}}}}}`,
	`{"unknown":{"deep":[1,2,{"x":null}]},"spec":{"unknownToo":true,"template":{"metadata":{"x":1}}}}`,
	`{"Spec":{"replicas":3},"METADATA":{"name":"x"},"spec":{"Replicas":4,"minreadyseconds":2},"Kind":"Pod"}`,
	`{"spec":{"template":{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"100m","memory":"1.5Gi"},"requests":{"cpu":0.25,"memory":1e9,"x":null}}}]}}}}`,
	`{"spec":{"template":{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"lots"}}}]}}}}`,
	`{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}},"ports":[{"port":80,"targetPort":"http"},{"port":81,"targetPort":8081}]}}`,
	`{"spec":{"strategy":{"rollingUpdate":{"maxSurge":null,"maxUnavailable":true}}}}`,
	`{"metadata":{"creationTimestamp":"2024-01-02T03:04:05Z","deletionTimestamp":null}}`,
	`{"metadata":{"creationTimestamp":"not a time"}}`,
	`{"metadata":{"name":"\u00e9\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t","annotations":{"k\u0000":"v\ud800"}}}`,
	"{\"metadata\":{\"name\":\"caf\xe9\"}}",
	`{"spec":{"replicas":2147483647,"minReadySeconds":-0,"revisionHistoryLimit":-2147483648}}`,
	`{"spec":{"replicas":2147483648}}`,
	`{"spec":{"replicas":1e2}}`,
	`{"spec":{"replicas":1.0}}`,
	`{"spec":{"replicas":99999999999999999999999999999}}`,
	`{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":9223372036854775807,"activeDeadlineSeconds":-9223372036854775808}}}}`,
	`{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":9223372036854775808}}}}`,
	`{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":"30"}}}}`,
	`{"spec":[]}`,
	`{"spec":{"clusterIP":5}}`,
	`{"spec":{"clusterIPs":"10.0.0.1"}}`,
	`{"spec":{"hostNetwork":"true"}}`,
	`{"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"protocol":"TCP"}],"env":[{"name":"X","value":"1"},{"name":"Y","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}]}],"volumes":[{"name":"v","hostPath":{"path":"/x"},"emptyDir":{"sizeLimit":"1Gi"}}]}}`,
	`{"spec":{"volumes":[{"name":"v","hostPath":"/x"}]}}`,
	`{"spec":{"ports":[{"port":80,"nodePort":"x"}]}}`,
	`{"status":{"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2024-01-02T03:04:05Z"}]}}`,
	`[]`,
	`{"spec":{"replicas":3}`,
}

// TestUnmarshalAgreesWithSigsJSON checks that Unmarshal decodes like
// sigs.k8s.io/json, the API server's decoder:
// the same objects, and the same inputs rejected.
func TestUnmarshalAgreesWithSigsJSON(t *testing.T) {
	for _, in := range decodeDifferentialCases {
		decodeAgrees(t, []byte(in))
	}
}

// FuzzDecodeAgreesWithSigsJSON is TestUnmarshalAgreesWithSigsJSON on arbitrary
// input.
func FuzzUnmarshalAgreesWithSigsJSON(f *testing.F) {
	for _, in := range decodeDifferentialCases {
		f.Add([]byte(in))
	}
	f.Fuzz(decodeAgrees)
}

func decodeAgrees(t *testing.T, in []byte) {
	for _, newObj := range []func() runtime.Object{
		func() runtime.Object { return &appsv1.Deployment{} },
		func() runtime.Object { return &corev1.Pod{} },
		func() runtime.Object { return &corev1.Service{} },
	} {
		got, want := newObj(), newObj()
		gotErr := Unmarshal(in, got)
		var huge *hugeExponentError
		if errors.As(gotErr, &huge) {
			continue // sigs.k8s.io/json would take practically forever (see unmarshalQuantity)
		}
		wantErr := sigsjson.UnmarshalCaseSensitivePreserveInts(in, want)
		if (gotErr != nil) != (wantErr != nil) {
			t.Errorf("%T %s:\nv2 error: %v\nsigs.k8s.io/json error: %v", got, in, gotErr, wantErr)
			continue
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%T %s decodes differently:\n%s", got, in, cmp.Diff(want, got))
		}
	}
}
