package audit

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

func TestReportOfFindings(t *testing.T) {
	now := time.Unix(1700000000, 0)
	findings := []policies.Finding{
		{Rule: "toleration-value-fragile", Action: policies.ActionWarn, Err: field.Invalid(field.NewPath("spec", "template", "spec", "tolerations").Index(0).Child("operator"), "Equal", "use operator: Exists")},
		{Rule: "statefulset-service-name", Action: policies.ActionDeny, Err: field.Required(field.NewPath("spec", "serviceName"), "name a headless Service")},
		{Rule: "topology-key-unknown", Action: policies.ActionAudit, Err: field.Invalid(field.NewPath("spec", "x"), "k", "no node has it")},
	}
	ref := report.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "shop", Name: "db"}
	rep := newReport(ref, "uid-1", resultsOf(findings, now))
	want := &reportsv1alpha1.Report{
		TypeMeta: metav1.TypeMeta{APIVersion: "openreports.io/v1alpha1", Kind: "Report"},
		ObjectMeta: metav1.ObjectMeta{Name: "uid-1", Namespace: "shop", Labels: map[string]string{"app.kubernetes.io/managed-by": "setwarden"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", UID: "uid-1"}}},
		Source:  "setwarden",
		Scope:   &corev1.ObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "shop", Name: "db", UID: "uid-1"},
		Summary: reportsv1alpha1.ReportSummary{Fail: 1, Warn: 2},
		Results: []reportsv1alpha1.ReportResult{
			{Source: "setwarden", Policy: "statefulset-service-name", Rule: "statefulset-service-name", Severity: "high", Result: "fail", Scored: true,
				Timestamp: metav1.Timestamp{Seconds: 1700000000}, Description: "spec.serviceName: Required value: name a headless Service",
				Properties: map[string]string{"field": "spec.serviceName", "action": "Deny"}},
			{Source: "setwarden", Policy: "toleration-value-fragile", Rule: "toleration-value-fragile", Severity: "medium", Result: "warn", Scored: true,
				Timestamp: metav1.Timestamp{Seconds: 1700000000}, Description: `spec.template.spec.tolerations[0].operator: Invalid value: "Equal": use operator: Exists`,
				Properties: map[string]string{"field": "spec.template.spec.tolerations[0].operator", "action": "Warn"}},
			{Source: "setwarden", Policy: "topology-key-unknown", Rule: "topology-key-unknown", Severity: "low", Result: "warn", Scored: true,
				Timestamp: metav1.Timestamp{Seconds: 1700000000}, Description: `spec.x: Invalid value: "k": no node has it`,
				Properties: map[string]string{"field": "spec.x", "action": "Audit"}},
		},
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("Report (-want +got):\n%s", diff)
	}
	back := resultsOfReport(rep)
	if !sameResults(back, resultsOf(findings, now.Add(time.Hour))) {
		t.Errorf("a Report read back is not the same findings: %+v", back)
	}
	later := resultsOf(findings[:1], now.Add(time.Hour))
	keepSince(later, back)
	if later[0].Since.Seconds != 1700000000 {
		t.Errorf("an unchanged finding got a new timestamp: %+v", later[0].Since)
	}
}

func TestNodesOnlyKeepsOnlyTheRulesThatReadNodes(t *testing.T) {
	cfg, err := policies.ParseConfig([]byte("apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\nrules:\n  topology-key-unknown: {action: Deny, namespaces: {legacy: Audit}}\n  toleration-value-fragile: {action: Deny}\n"))
	if err != nil {
		t.Fatal(err)
	}
	nodes := nodesOnly(cfg)
	for i := range policies.Rules {
		r := &policies.Rules[i]
		got, want := nodes.ActionFor(r, "legacy"), cfg.ActionFor(r, "legacy")
		if r.Needs != policies.NeedsNodes {
			want = policies.ActionOff
		}
		if got != want {
			t.Errorf("%s in legacy: %s, want %s", r.ID, got, want)
		}
	}
	if cfg.ActionFor(&policies.Rules[1], "") != policies.ActionDeny {
		t.Errorf("nodesOnly changed the config it copies")
	}
}

func TestStripWorkload(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: 3,
			Annotations:   map[string]string{lastApplied: "{...}", "setwarden.dev/exempt": "*"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec:   appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
		Status: appsv1.DeploymentStatus{Replicas: 2},
	}
	got, _ := StripWorkload(d)
	want := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: 3, Annotations: map[string]string{"setwarden.dev/exempt": "*"}},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stripped Deployment (-want +got):\n%s", diff)
	}
	owner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "u", Controller: ptr.To(true)}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1-x", Namespace: "shop", UID: "p", OwnerReferences: owner, Labels: map[string]string{"a": "b"}},
		Spec: corev1.PodSpec{NodeName: "n"}}
	got, _ = StripWorkload(pod)
	wantPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1-x", Namespace: "shop", UID: "p", OwnerReferences: owner}}
	if diff := cmp.Diff(wantPod, got); diff != "" {
		t.Errorf("a controlled Pod keeps more than its owner (-want +got):\n%s", diff)
	} // Every judged kind is stripped, to a stub of its own type when controlled.
	for _, k := range policies.Kinds() {
		obj := k.New()
		obj.(metav1.Object).SetName("x")
		obj.(metav1.Object).SetOwnerReferences(owner)
		got, _ := StripWorkload(obj)
		if reflect.TypeOf(got) != reflect.TypeOf(k.New()) || got.(metav1.Object).GetName() != "x" || len(got.(metav1.Object).GetOwnerReferences()) != 1 {
			t.Errorf("a controlled %s is stripped to %#v, want a %T keeping its name and owner", k.Kind, got, k.New())
		}
	}
}
