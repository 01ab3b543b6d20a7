package kjson

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"
)

// TestStrictErrorsAgreeWithSigsJSON checks that UnmarshalStrict finds the
// unknown and duplicate fields sigs.k8s.io/json's UnmarshalStrict, the API
// server's strict field validation, finds, at the same paths, and decodes
// the same object as Unmarshal.
func TestStrictErrorsAgreeWithSigsJSON(t *testing.T) {
	cases := append(slices.Clone(decodeDifferentialCases),
		`{"spec":{"template":{"spec":{"affinity":{"nodeAfinity":{},"podAntiAfinity":{}},"tolerationz":[],"nodeSelecter":{}}}}}`,
		`{"metadata":{"name":"a"},"metadata":{"name":"b"},"spec":{"serviceNme":"x","volumeClaimTemplate":[]}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"a","imagePullPolicyy":"Always"},{"name":"b","ports":[{"containerPort":1,"protocl":"TCP"}]}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"a","name":"b"}]}}},"status":{"x":1}}`,
	)
	withStrictErrors := 0
	for _, in := range cases {
		for _, newObj := range []func() any{func() any { return &appsv1.Deployment{} }, func() any { return &corev1.Pod{} },
			func() any { return &corev1.Service{} }, func() any { return &appsv1.StatefulSet{} }} {
			want := newObj()
			if err := Unmarshal([]byte(in), want); err != nil {
				continue // strictness applies to what decodes
			}
			sigsStrict, err := sigsjson.UnmarshalStrict([]byte(in), newObj())
			if err != nil {
				continue
			}
			got := newObj()
			errs, err := UnmarshalStrict([]byte(in), got, true, nil)
			if err != nil {
				t.Errorf("UnmarshalStrict(%s) into %T: %v", in, got, err)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("UnmarshalStrict(%s) into %T decodes %+v, want %+v as Unmarshal does", in, got, got, want)
			}
			var ours, theirs []string
			for _, e := range errs {
				kind, _, _ := strings.Cut(e.Detail, " ")
				ours = append(ours, kind+" field \""+sigsPath(e.Field)+"\"")
			}
			for _, e := range sigsStrict {
				theirs = append(theirs, e.Error())
			}
			if len(theirs) > 0 {
				withStrictErrors++
			}
			slices.Sort(ours)
			slices.Sort(theirs)
			if diff := cmp.Diff(theirs, ours); diff != "" {
				t.Errorf("strict errors of %s into %T differ from sigs.k8s.io/json's (-sigs +ours):\n%s", in, got, diff)
			}
		}
	}
	if withStrictErrors < 20 {
		t.Errorf("only %d decodes had strict errors to compare, want at least 20", withStrictErrors)
	}
}

// sigsPath writes a map entry as sigs.k8s.io/json does: a.b[key] is a.b.key.
func sigsPath(p string) string {
	if i := strings.IndexByte(p, '['); i >= 0 && !strings.ContainsAny(p[i+1:i+2], "0123456789") {
		return p[:i] + "." + strings.TrimSuffix(p[i+1:], "]")
	}
	return p
}

func TestSuggest(t *testing.T) {
	known := []string{"nodeAffinity", "podAffinity", "podAntiAffinity", "spec", "status"}
	tests := []struct {
		name, in, want string
	}{
		{"one letter missing is suggested", "nodeAfinity", "nodeAffinity"},
		{"two edits away is suggested", "podAfinty", "podAffinity"},
		{"a name differing only in case is suggested before any closer one", "Spec", "spec"},
		{"three edits away is not suggested", "nodeAfnty", ""},
		{"a name of another struct is not suggested", "tolerations", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := suggest(tt.in, known); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
