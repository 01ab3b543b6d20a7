package webhook

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	evanjsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/setwarden/setwarden/internal/kjson"
)

const (
	cpToleration     = `{"effect":"NoSchedule","key":"node-role.kubernetes.io/control-plane","operator":"Exists"}`
	masterToleration = `{"effect":"NoSchedule","key":"node-role.kubernetes.io/master","operator":"Exists"}`
)

// agentDaemonSet returns an agent DaemonSet whose pod template spec is spec.
func agentDaemonSet(spec string) string {
	return `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","namespace":"data","labels":{"setwarden.dev/agent":"true"}},` +
		`"spec":{"selector":{"matchLabels":{"app":"agent"}},"template":{"metadata":{"labels":{"app":"agent"}}` + spec + `}}}`
}

// TestScopedPatchAgreesWithTheWholeObjectPatch mutates agent DaemonSets
// through the webhook, whose patch covers the tolerations alone, and
// checks the patch, the object it makes, and that this object is, in our
// types, the one the patch between the whole objects makes (what
// controller-runtime's defaulter computes).
func TestScopedPatchAgreesWithTheWholeObjectPatch(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		wantPatch string // "": the whole-object patch
		want      string // "": what the whole-object patch makes
	}{
		{
			name:      "an agent without tolerations gets both in one operation and nothing else",
			raw:       agentDaemonSet(`,"spec":{"containers":[{"name":"a","image":"a:1"}]}`),
			wantPatch: `[{"op":"add","path":"/spec/template/spec/tolerations","value":[` + cpToleration + `,` + masterToleration + `]}]`,
			want:      agentDaemonSet(`,"spec":{"containers":[{"name":"a","image":"a:1"}],"tolerations":[` + cpToleration + `,` + masterToleration + `]}`),
		},
		{
			name: "an agent's own toleration is kept and the others are appended",
			raw:  agentDaemonSet(`,"spec":{"containers":[{"name":"a","image":"a:1"}],"tolerations":[{"key":"dedicated","operator":"Equal","value":"monitoring","effect":"NoSchedule"}]}`),
			wantPatch: `[{"op":"add","path":"/spec/template/spec/tolerations/1","value":` + cpToleration + `},` +
				`{"op":"add","path":"/spec/template/spec/tolerations/2","value":` + masterToleration + `}]`,
			want: agentDaemonSet(`,"spec":{"containers":[{"name":"a","image":"a:1"}],"tolerations":[{"key":"dedicated","operator":"Equal","value":"monitoring","effect":"NoSchedule"},` +
				cpToleration + `,` + masterToleration + `]}`),
		},
		{
			name: "a toleration field our API does not know is kept",
			raw:  agentDaemonSet(`,"spec":{"containers":[{"name":"a","image":"a:1"}],"tolerations":[{"key":"dedicated","operator":"Exists","futureField":"keep-me"}]}`),
			wantPatch: `[{"op":"add","path":"/spec/template/spec/tolerations/1","value":` + cpToleration + `},` +
				`{"op":"add","path":"/spec/template/spec/tolerations/2","value":` + masterToleration + `}]`,
			want: agentDaemonSet(`,"spec":{"containers":[{"name":"a","image":"a:1"}],"tolerations":[{"key":"dedicated","operator":"Exists","futureField":"keep-me"},` +
				cpToleration + `,` + masterToleration + `]}`),
		},
		{
			name:      "fields outside the tolerations, known or not, are not touched",
			raw:       agentDaemonSet(`,"spec":{"futurePodField":{"x":1},"containers":[{"name":"a","image":"a:1","ports":null}],"nodeSelector":null}`),
			wantPatch: `[{"op":"add","path":"/spec/template/spec/tolerations","value":[` + cpToleration + `,` + masterToleration + `]}]`,
			want:      agentDaemonSet(`,"spec":{"futurePodField":{"x":1},"containers":[{"name":"a","image":"a:1","ports":null}],"nodeSelector":null,"tolerations":[` + cpToleration + `,` + masterToleration + `]}`),
		},
		{
			name:      "a template without a spec gets one holding the tolerations",
			raw:       agentDaemonSet(``),
			wantPatch: `[{"op":"add","path":"/spec/template/spec","value":{"tolerations":[` + cpToleration + `,` + masterToleration + `]}}]`,
			want:      agentDaemonSet(`,"spec":{"tolerations":[` + cpToleration + `,` + masterToleration + `]}`),
		},
		{
			name:      "null tolerations are replaced",
			raw:       agentDaemonSet(`,"spec":{"containers":[{"name":"a","image":"a:1"}],"tolerations":null}`),
			wantPatch: `[{"op":"replace","path":"/spec/template/spec/tolerations","value":[` + cpToleration + `,` + masterToleration + `]}]`,
			want:      agentDaemonSet(`,"spec":{"containers":[{"name":"a","image":"a:1"}],"tolerations":[` + cpToleration + `,` + masterToleration + `]}`),
		},
		{
			// A duplicate name could be read two ways; the whole objects
			// are compared as controller-runtime's defaulter would.
			name: "a duplicate name on the way falls back to the whole objects",
			raw:  agentDaemonSet(`,"spec":{"containers":[{"name":"a","image":"a:1"}],"tolerations":[],"tolerations":null}`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestHandlers(t)
			resp := serve(t, h.MutatingWebhook(), review(t, admissionv1.Create, dsKind, []byte(tt.raw), nil))
			if !resp.Allowed {
				t.Fatalf("mutation denied: %+v", resp.Result)
			}
			wholePatch := wholeObjectPatch(t, h, []byte(tt.raw))
			whole := applyPatch(t, tt.raw, wholePatch)
			wantPatch, want := tt.wantPatch, tt.want
			if wantPatch == "" {
				wantPatch, want = string(wholePatch), string(whole)
			}
			if diff := cmp.Diff(patchOps(t, wantPatch), patchOps(t, string(resp.Patch))); diff != "" {
				t.Errorf("patch differs (-want +got):\n%s", diff)
			}
			got := applyPatch(t, tt.raw, resp.Patch)
			if diff := cmp.Diff(jsonValue(t, want), jsonValue(t, string(got))); diff != "" {
				t.Errorf("patched object differs (-want +got):\n%s", diff)
			}
			if a, b := typedDaemonSet(t, got), typedDaemonSet(t, whole); !reflect.DeepEqual(a, b) {
				t.Errorf("the scoped patch makes a different object than the whole-object patch:\n%s", cmp.Diff(b, a))
			}
		})
	}
}

// TestAgentTolerationsMutatedValueIsAtMutatedPath checks that the value
// AgentTolerations names is the one at the path it names in the encoded
// object: a mismatch would patch the wrong place.
func TestAgentTolerationsMutatedValueIsAtMutatedPath(t *testing.T) {
	m := &AgentTolerations{}
	ds := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		NodeSelector: map[string]string{"tolerations": "decoy"},
		Tolerations:  []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}},
	}}}}
	whole, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	value, err := json.Marshal(m.MutatedValue(ds))
	if err != nil {
		t.Fatal(err)
	}
	isolated, err := isolate(whole, m.MutatedPath())
	if err != nil {
		t.Fatal(err)
	}
	if want := nest(m.MutatedPath(), len(m.MutatedPath())-1, value); string(isolated) != string(want) {
		t.Errorf("isolated %s, want %s", isolated, want)
	}
}

// TestIsolate covers documents whose value cannot be isolated.
func TestIsolate(t *testing.T) {
	path := []string{"spec", "tolerations"}
	tests := []struct {
		name string
		doc  string
		want string // "" for errNotIsolated or a syntax error
	}{
		{name: "the value and its parents are kept, nothing else", doc: `{"a":1,"spec":{"b":[{"tolerations":1}],"tolerations":[1]}}`, want: `{"spec":{"tolerations":[1]}}`},
		{name: "a missing value leaves its parent empty", doc: `{"spec":{"b":2}}`, want: `{"spec":{}}`},
		{name: "a missing parent leaves the document empty", doc: `{"a":1}`, want: `{}`},
		{name: "a null parent cannot be isolated", doc: `{"spec":null}`},
		{name: "a parent that is not an object cannot be isolated", doc: `{"spec":[1]}`},
		{name: "a document that is not an object cannot be isolated", doc: `[1]`},
		{name: "a duplicate name in a parent cannot be isolated", doc: `{"spec":{"tolerations":[1],"b":1,"b":2}}`},
		{name: "a duplicate parent cannot be isolated", doc: `{"spec":{"tolerations":[1]},"spec":{}}`},
		{name: "a second document cannot be isolated", doc: `{"spec":{}} {}`},
		{name: "a truncated document cannot be isolated", doc: `{"spec":{"tolerations":[1]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := isolate([]byte(tt.doc), path)
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("isolated %s, want an error", got)
			case tt.want != "" && (err != nil || string(got) != tt.want):
				t.Errorf("isolated %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// wholeObjectPatch is what controller-runtime's defaulter computes: the
// patch between the raw object and the whole mutated object.
func wholeObjectPatch(t *testing.T, h *Handlers, raw []byte) []byte {
	t.Helper()
	ds := &appsv1.DaemonSet{}
	if err := kjson.Unmarshal(raw, ds); err != nil {
		t.Fatal(err)
	}
	if changed, err := (&AgentTolerations{Engines: h.Engines, Metrics: h.Metrics}).Mutate(t.Context(), ds); err != nil || !changed {
		t.Fatalf("not mutated: %v", err)
	}
	mutated, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	resp := admission.PatchResponseFromRaw(raw, mutated)
	if err := keepUnknownFields[*appsv1.DaemonSet](&resp, raw); err != nil {
		t.Fatal(err)
	}
	patch, err := json.Marshal(resp.Patches)
	if err != nil {
		t.Fatal(err)
	}
	return patch
}

func applyPatch(t *testing.T, doc string, patch []byte) []byte {
	t.Helper()
	p, err := evanjsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("decoding patch %s: %v", patch, err)
	}
	out, err := p.Apply([]byte(doc))
	if err != nil {
		t.Fatalf("applying patch %s: %v", patch, err)
	}
	return out
}

// patchOps decodes a JSON patch, ordered by path: the whole-object patch
// lists a map's keys in random order.
func patchOps(t *testing.T, patch string) []map[string]any {
	t.Helper()
	var ops []map[string]any
	if err := json.Unmarshal([]byte(patch), &ops); err != nil {
		t.Fatalf("%s: %v", patch, err)
	}
	slices.SortFunc(ops, func(a, b map[string]any) int { return strings.Compare(a["path"].(string), b["path"].(string)) })
	return ops
}

func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func typedDaemonSet(t *testing.T, doc []byte) *appsv1.DaemonSet {
	t.Helper()
	ds := &appsv1.DaemonSet{}
	if err := kjson.Unmarshal(doc, ds); err != nil {
		t.Fatal(err)
	}
	return ds
}
