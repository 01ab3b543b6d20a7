package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/setwarden/setwarden/policies"
)

// newTestHandlers returns handlers over a fake cache holding objs; the
// fake client stands in for the informer cache only, never for the API
// server's admission behaviour (that is tested in test/e2e).
func newTestHandlers(t testing.TB, objs ...runtime.Object) (*Handlers, *prometheus.Registry) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithRuntimeObjects(objs...).Build()
	reg := prometheus.NewRegistry()
	return &Handlers{
		Engines: NewEngineStore(policies.NewEngine(nil)),
		View:    &CacheView{Cache: reader, APIReader: reader},
		Metrics: NewMetrics(reg),
	}, reg
}

// review builds the raw AdmissionReview the API server would send.
func review(t testing.TB, op admissionv1.Operation, gvk metav1.GroupVersionKind, obj, old any) []byte {
	t.Helper()
	raw := func(o any) runtime.RawExtension {
		if o == nil {
			return runtime.RawExtension{}
		}
		if b, ok := o.([]byte); ok {
			return runtime.RawExtension{Raw: b}
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return runtime.RawExtension{Raw: b}
	}
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("0c9a0c3e-1111-4a0b-9c3c-5b8d7f0e6a01"), Kind: gvk, Operation: op,
			Resource:  metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: strings.ToLower(gvk.Kind) + "s"},
			Namespace: "data", Object: raw(obj), OldObject: raw(old),
		},
	}
	b, err := json.Marshal(ar)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serve sends a raw review through the webhook's HTTP handler.
func serve(t testing.TB, wh http.Handler, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	wh.ServeHTTP(rec, req)
	out := admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("decoding response %q: %v", rec.Body.String(), err)
	}
	return out.Response
}

// readTestdata returns the contents of testdata/name.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var (
	dsKind  = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	stsKind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
)

func TestMutationKeepsFieldsOurAPIDoesNotKnow(t *testing.T) {
	h, _ := newTestHandlers(t)
	raw := readTestdata(t, "agent-daemonset-with-unknown-fields.json")
	resp := serve(t, h.MutatingWebhook(), review(t, admissionv1.Create, dsKind, raw, nil))
	if !resp.Allowed {
		t.Fatalf("mutation denied: %+v", resp.Result)
	}
	var patch []jsonpatch.JsonPatchOperation
	if err := json.Unmarshal(resp.Patch, &patch); err != nil {
		t.Fatal(err)
	}
	wantTolerations := []any{
		map[string]any{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane", "operator": "Exists"},
		map[string]any{"effect": "NoSchedule", "key": "node-role.kubernetes.io/master", "operator": "Exists"},
	}
	// The raw object is not defaulted here as the API server's would be, so
	// the patch may also add zero values our types marshal; what matters is
	// that it adds the tolerations and never removes or replaces a field.
	found := false
	for _, op := range patch {
		switch {
		case op.Operation != "add":
			t.Errorf("the patch must only add, got %s %s", op.Operation, op.Path)
		case strings.Contains(op.Path, "future"):
			t.Errorf("the patch touches an unknown field: %s", op.Path)
		case op.Path == "/spec/template/spec/tolerations":
			found = true
			if diff := cmp.Diff(wantTolerations, op.Value); diff != "" {
				t.Errorf("tolerations differ (-want +got):\n%s", diff)
			}
		}
	}
	if !found {
		t.Errorf("the patch does not add the tolerations: %v", patch)
	}
	if got := testutil.ToFloat64(h.Metrics.Decisions.WithLabelValues(policies.RuleAgentTolerations, "Mutate", "DaemonSet", "CREATE", "false")); got != 2 {
		t.Errorf("mutation metric = %v, want 2", got)
	}
}

func TestMutationOfACoveredAgentIsANoOp(t *testing.T) {
	h, _ := newTestHandlers(t)
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "data", Labels: map[string]string{"setwarden.dev/agent": "true"}},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		}}},
	}
	resp := serve(t, h.MutatingWebhook(), review(t, admissionv1.Update, dsKind, ds, ds))
	if !resp.Allowed || resp.Patch != nil {
		t.Errorf("want allowed without patch, got allowed=%v patch=%s", resp.Allowed, resp.Patch)
	}
}

func TestValidationDenialListsEveryFieldError(t *testing.T) {
	h, _ := newTestHandlers(t)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data"},
		Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
		}},
	}
	resp := serve(t, h.ValidatingWebhook(), review(t, admissionv1.Create, stsKind, sts, nil))
	if resp.Allowed {
		t.Fatal("a StatefulSet without serviceName and claim templates was admitted")
	}
	if resp.Result.Reason != metav1.StatusReasonInvalid || resp.Result.Code != http.StatusUnprocessableEntity {
		t.Errorf("want an Invalid (422) status, got %s (%d)", resp.Result.Reason, resp.Result.Code)
	}
	var causes []string
	for _, c := range resp.Result.Details.Causes {
		causes = append(causes, c.Field+" "+string(c.Type))
	}
	if diff := cmp.Diff([]string{"spec.serviceName FieldValueRequired", "spec.volumeClaimTemplates FieldValueRequired"}, causes); diff != "" {
		t.Errorf("causes differ (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(h.Metrics.Decisions.WithLabelValues(policies.RuleStatefulSetServiceName, "Deny", "StatefulSet", "CREATE", "false")); got != 1 {
		t.Errorf("deny metric = %v, want 1", got)
	}
}

func TestDryRunIsEvaluatedLikeARealRequest(t *testing.T) {
	h, _ := newTestHandlers(t)
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data"}}
	body := review(t, admissionv1.Create, stsKind, sts, nil)
	ar := admissionv1.AdmissionReview{}
	_ = json.Unmarshal(body, &ar)
	dry := true
	ar.Request.DryRun = &dry
	body, _ = json.Marshal(ar)
	if resp := serve(t, h.ValidatingWebhook(), body); resp.Allowed {
		t.Fatal("a dry-run of a broken StatefulSet was admitted")
	}
	if got := testutil.ToFloat64(h.Metrics.Decisions.WithLabelValues(policies.RuleStatefulSetServiceName, "Deny", "StatefulSet", "CREATE", "true")); got != 1 {
		t.Errorf("dry-run deny metric = %v, want 1", got)
	}
}

func TestRouter(t *testing.T) {
	h, _ := newTestHandlers(t)
	tests := []struct {
		name        string
		body        []byte
		wantAllowed bool
		wantCode    int32
		wantMessage string
	}{
		{
			name:        "a kind setwarden does not evaluate is admitted untouched",
			body:        review(t, admissionv1.Create, metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, map[string]any{"kind": "ConfigMap"}, nil),
			wantAllowed: true, wantCode: http.StatusOK,
			wantMessage: "setwarden does not evaluate /v1, Kind=ConfigMap",
		},
		{
			name:        "a request without an object is a bad request",
			body:        review(t, admissionv1.Create, stsKind, nil, nil),
			wantCode:    http.StatusBadRequest,
			wantMessage: "the admission request has no object",
		},
		{
			name:        "an object that is not JSON is a bad request",
			body:        review(t, admissionv1.Create, stsKind, []byte(`"not an object"`), nil),
			wantCode:    http.StatusBadRequest,
			wantMessage: "decoding the object: cannot decode a JSON string into v1.StatefulSet",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(t, h.ValidatingWebhook(), tt.body)
			if resp.Allowed != tt.wantAllowed || resp.Result == nil || resp.Result.Code != tt.wantCode || resp.Result.Message != tt.wantMessage {
				t.Errorf("got allowed=%v result=%+v, want allowed=%v code=%d message %q", resp.Allowed, resp.Result, tt.wantAllowed, tt.wantCode, tt.wantMessage)
			}
		})
	}
}

// TestWarningsKeepRoomForTheCountLine: warnings that fill the budget to
// just under the limit still leave room for the line that counts the rest.
func TestWarningsKeepRoomForTheCountLine(t *testing.T) {
	warn := func(n int) policies.Finding {
		detail := strings.Repeat("x", n-len("affinity-deprecated-label: "))
		return policies.Finding{Rule: "affinity-deprecated-label", Action: policies.ActionWarn, Err: field.Invalid(field.NewPath("spec"), "x", detail)}
	}
	var findings []policies.Finding
	for range 15 {
		findings = append(findings, warn(256))
	}
	findings = append(findings, warn(191), warn(100), warn(100))
	warnings := warningsFor(&policies.Report{Findings: findings})
	total := 0
	for _, w := range warnings {
		total += len(w)
	}
	if total > maxWarningsSize {
		t.Errorf("warnings total %d bytes, over %d", total, maxWarningsSize)
	}
	if last := warnings[len(warnings)-1]; last != "setwarden: 3 more warnings; see the setwarden logs or run setwarden check" {
		t.Errorf("last warning %q, want the count of the 3 left out", last)
	}
}

func TestWarningsFitTheAPIServerLimits(t *testing.T) {
	long := strings.Repeat("é", 300)
	var findings []policies.Finding
	for range 40 {
		findings = append(findings, policies.Finding{Rule: "affinity-deprecated-label", Action: policies.ActionWarn,
			Err: field.Invalid(field.NewPath("spec"), "x", long)})
	}
	findings = append(findings, policies.Finding{Rule: "statefulset-service-name", Action: policies.ActionDeny,
		Err: field.Required(field.NewPath("spec"), "not a warning")})
	warnings := warningsFor(&policies.Report{Findings: findings})
	total := 0
	for _, w := range warnings {
		if len(w) > policies.MaxWarningLength {
			t.Errorf("warning of %d bytes exceeds %d: %q", len(w), policies.MaxWarningLength, w)
		}
		if !strings.HasPrefix(w, "affinity-deprecated-label: ") && !strings.HasPrefix(w, "setwarden: ") {
			t.Errorf("warning does not start with its rule ID: %q", w)
		}
		total += len(w)
	}
	if total > maxWarningsSize {
		t.Errorf("warnings total %d bytes, over %d", total, maxWarningsSize)
	}
	last := warnings[len(warnings)-1]
	if last != "setwarden: 25 more warnings; see the setwarden logs or run setwarden check" {
		t.Errorf("last warning should count the rest, got %q", last)
	}
	if !strings.HasSuffix(warnings[0], "é...") {
		t.Errorf("truncation should cut on a rune boundary and mark the cut: %q", warnings[0][240:])
	}
}

// TestAuditAndExemptAdmitSilentlyAndAreCounted: an Audit finding and an
// exempted one admit with neither denial nor warning, and each is counted.
func TestAuditAndExemptAdmitSilentlyAndAreCounted(t *testing.T) {
	h, _ := newTestHandlers(t)
	cfg, err := policies.ParseConfig([]byte("apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n" +
		"rules:\n  statefulset-volume-claim-templates: {action: Audit}\n  statefulset-service-missing: {action: Off}\n"))
	if err != nil {
		t.Fatal(err)
	}
	h.Engines.Store(policies.NewEngine(cfg))
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: "data", Annotations: map[string]string{
			policies.ExemptAnnotation: "statefulset-service-name", policies.ExemptReasonAnnotation: "legacy cache"}},
		Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cache"}}}},
	}
	resp := serve(t, h.ValidatingWebhook(), review(t, admissionv1.Create, stsKind, sts, nil))
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Errorf("want admitted without warnings, got allowed=%v warnings=%q result=%+v", resp.Allowed, resp.Warnings, resp.Result)
	}
	for _, c := range []struct{ rule, action string }{
		{policies.RuleStatefulSetVolumeClaimTmpls, "Audit"},
		{policies.RuleStatefulSetServiceName, "Exempt"},
	} {
		if got := testutil.ToFloat64(h.Metrics.Decisions.WithLabelValues(c.rule, c.action, "StatefulSet", "CREATE", "false")); got != 1 {
			t.Errorf("%s %s counted %v times, want 1", c.rule, c.action, got)
		}
	}
}
