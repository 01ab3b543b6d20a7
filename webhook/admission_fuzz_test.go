package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/setwarden/setwarden/internal/kjson"
	"github.com/setwarden/setwarden/policies"
)

// fuzzSeedReviews returns raw request bodies for the admission fuzz
// target: valid reviews of every kind, and the malformed shapes a hostile
// or broken client sends.
func fuzzSeedReviews(tb testing.TB) [][]byte {
	kind := func(group, version, k string) metav1.GroupVersionKind {
		return metav1.GroupVersionKind{Group: group, Version: version, Kind: k}
	}
	agentLabels := map[string]string{"setwarden.dev/agent": "true"}
	tpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{
			Containers:  []corev1.Container{{Name: "db", Image: "db:1", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Tolerations: []corev1.Toleration{{Key: "node-role.kubernetes.io/master", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}},
			Affinity: &corev1.Affinity{
				NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
						{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}},
						{Key: "zone", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"a"}},
					}}},
				}},
				PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
					{LabelSelector: &metav1.LabelSelector{}, TopologyKey: "kubernetes.io/hostname"},
				}},
			},
		},
	}
	meta := metav1.ObjectMeta{Name: "db", Namespace: "data"}
	sts := &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{ServiceName: "db", Template: tpl,
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}}}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "data", Labels: agentLabels}, Spec: appsv1.DaemonSetSpec{Template: tpl}}
	seeds := [][]byte{
		review(tb, admissionv1.Create, stsKind, sts, nil),
		review(tb, admissionv1.Update, stsKind, sts, &appsv1.StatefulSet{ObjectMeta: meta}),
		review(tb, admissionv1.Create, dsKind, ds, nil),
		review(tb, admissionv1.Update, dsKind, ds, ds),
		review(tb, admissionv1.Create, kind("apps", "v1", "Deployment"), &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: tpl}}, nil),
		review(tb, admissionv1.Create, kind("", "v1", "Pod"), &corev1.Pod{ObjectMeta: meta, Spec: tpl.Spec}, nil),
		review(tb, admissionv1.Create, kind("batch", "v1", "CronJob"), &batchv1.CronJob{ObjectMeta: meta,
			Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tpl}}}}, nil),
		review(tb, admissionv1.Create, kind("", "v1", "ReplicationController"), &corev1.ReplicationController{ObjectMeta: meta}, nil),
		review(tb, admissionv1.Delete, stsKind, nil, sts),
		review(tb, admissionv1.Connect, stsKind, nil, nil),
		review(tb, admissionv1.Create, stsKind, &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"spec": "x"}}, nil),
		review(tb, admissionv1.Create, stsKind, ds, nil),
		review(tb, admissionv1.Create, dsKind, []byte(`{"spec":{"template":{"spec":{"tolerations":"all"}}}}`), nil),
		review(tb, admissionv1.Update, stsKind, sts, []byte(`[]`)),
		review(tb, admissionv1.Create, kind("", "v1", "ConfigMap"), map[string]any{"kind": "ConfigMap"}, nil),
		[]byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"1","kind":{"group":"apps","version":"v1","kind":"StatefulSet"},"operation":"CREATE","object":{"spec":{}}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"1"}}`),
		[]byte(`{"apiVersion":"v1","kind":"ConfigMap"}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"group":"apps","version":"v1","kind":"StatefulSet"},"operation":"CREATE","object":{"metadata":{"name":1}}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionRevi`),
		[]byte(`apiVersion: admission.k8s.io/v1`),
		[]byte(`null`),
		{},
	}
	return seeds
}

// FuzzAdmissionReview feeds arbitrary request bodies to the /validate and
// /mutate handlers. Whatever the body, a handler must not panic (the panic
// recovery of controller-runtime is off here, so a panic fails the run),
// and must answer with a well-formed AdmissionReview: a denial carries a
// 4xx status with a message, a patch is a JSON array, warnings fit the API
// server's limits.
func FuzzAdmissionReview(f *testing.F) {
	for _, seed := range fuzzSeedReviews(f) {
		f.Add(seed)
	}
	logf.SetLogger(logr.Discard())
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "db"}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-0", Labels: map[string]string{"zone": "a", "kubernetes.io/hostname": "node-0"}}}
	h, _ := newTestHandlers(f, svc, node)
	validate, mutate := h.ValidatingWebhook(), h.MutatingWebhook()
	validate.Webhook.WithRecoverPanic(false)
	mutate.Webhook.WithRecoverPanic(false)
	webhooks := map[string]*ReviewHandler{"validate": validate, "mutate": mutate}
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, wh := range webhooks {
			req := httptest.NewRequest(http.MethodPost, "/"+name, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			wh.ServeHTTP(rec, req)
			fuzzCheckAdmissionResponse(t, name, rec)
			if name == "mutate" {
				fuzzCheckPatch(t, h, body, rec)
			}
		}
	})
}

func fuzzCheckAdmissionResponse(t *testing.T, name string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: HTTP status %d, want 200 with the verdict in the review", name, rec.Code)
	}
	out := admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("%s: the answer is not an AdmissionReview with a response (%v): %q", name, err, rec.Body.String())
	}
	resp := out.Response
	if !resp.Allowed {
		if resp.Result == nil || resp.Result.Code < 400 || resp.Result.Code > 499 || resp.Result.Message == "" {
			t.Fatalf("%s: a refusal must carry a 4xx status and a message, got %+v", name, resp.Result)
		}
	}
	if resp.Patch != nil {
		var ops []map[string]any
		if err := json.Unmarshal(resp.Patch, &ops); err != nil || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
			t.Fatalf("%s: the patch is not a JSON patch (%v): %s", name, err, resp.Patch)
		}
	}
	total := 0
	for _, w := range resp.Warnings {
		if len(w) > policies.MaxWarningLength {
			t.Fatalf("%s: warning of %d bytes: %q", name, len(w), w)
		}
		total += len(w)
	}
	if total > maxWarningsSize {
		t.Fatalf("%s: warnings total %d bytes", name, total)
	}
}

// fuzzCheckPatch applies a mutation's patch to the request's object: it
// must apply, and make, in our types, the object that the patch between the
// whole objects (controller-runtime's defaulter's) makes.
func fuzzCheckPatch(t *testing.T, h *Handlers, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	out := admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil || out.Response.Patch == nil {
		return
	}
	in := admissionv1.AdmissionReview{}
	if err := kjson.Unmarshal(body, &in); err != nil || in.Request == nil {
		t.Fatalf("a patch answers a review that does not decode (%v)", err)
	}
	raw := in.Request.Object.Raw
	got := typedDaemonSet(t, applyPatch(t, string(raw), out.Response.Patch))
	whole := typedDaemonSet(t, applyPatch(t, string(raw), wholeObjectPatch(t, h, raw)))
	if !reflect.DeepEqual(got, whole) {
		t.Fatalf("the patch makes a different object than the whole-object patch:\n%s", cmp.Diff(whole, got))
	}
}
