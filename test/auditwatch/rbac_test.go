package auditwatch

import (
	"testing"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

// TestAuditServiceAccountHasExactlyTheChartsGrant makes requests as the
// audit ServiceAccount (rest.ImpersonationConfig) with the RBAC the chart
// renders: it lists and watches the judged kinds, Services, Nodes and its
// ConfigMap, writes Reports, Events and its Lease, and nothing else.
func TestAuditServiceAccountHasExactlyTheChartsGrant(t *testing.T) {
	admin := adminClient(t)
	ns := newNamespace(t)
	deploy := framework.WebDeployment(ns)
	if err := admin.Create(t.Context(), deploy); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: auditSA,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + framework.Namespace, "system:authenticated"}}
	sa, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	list := func(l client.ObjectList, opts ...client.ListOption) func() error {
		return func() error { return sa.List(ctx, l, opts...) }
	}
	watch := func(l client.ObjectList, opts ...client.ListOption) func() error {
		return func() error {
			w, err := sa.Watch(ctx, l, opts...)
			if err == nil {
				w.Stop()
			}
			return err
		}
	}
	report := &reportsv1alpha1.Report{ObjectMeta: metav1.ObjectMeta{Name: "rbac-test", Namespace: ns}, Source: "setwarden"}
	event := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "rbac-test", Namespace: ns}, EventTime: metav1.NowMicro(),
		ReportingController: "setwarden-audit", ReportingInstance: "test", Action: "Audit", Reason: "PolicyViolation", Type: "Warning",
		Regarding: corev1.ObjectReference{Kind: "Deployment", APIVersion: "apps/v1", Namespace: ns, Name: "web", UID: deploy.UID}}
	coreEvent := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "rbac-test-core", Namespace: ns}, Reason: "PolicyViolation", Type: "Warning",
		InvolvedObject: corev1.ObjectReference{Kind: "Deployment", APIVersion: "apps/v1", Namespace: ns, Name: "web", UID: deploy.UID}}
	lease := &coordinationv1.Lease{}
	byName := client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", "setwarden-config")}
	allowed := []struct {
		name string
		do   func() error
	}{
		{"list Pods", list(&corev1.PodList{})},
		{"watch Pods", watch(&corev1.PodList{})},
		{"list ReplicationControllers", list(&corev1.ReplicationControllerList{})},
		{"list Deployments", list(&appsv1.DeploymentList{})},
		{"watch Deployments", watch(&appsv1.DeploymentList{})},
		{"list ReplicaSets", list(&appsv1.ReplicaSetList{})},
		{"list StatefulSets", list(&appsv1.StatefulSetList{})},
		{"list DaemonSets", list(&appsv1.DaemonSetList{})},
		{"list Jobs", list(&batchv1.JobList{})},
		{"list CronJobs", list(&batchv1.CronJobList{})},
		{"list Services", list(&corev1.ServiceList{})},
		{"watch Services", watch(&corev1.ServiceList{})},
		{"list Nodes", list(&corev1.NodeList{})},
		{"watch Nodes", watch(&corev1.NodeList{})},
		{"list its ConfigMap by name", list(&corev1.ConfigMapList{}, client.InNamespace(framework.Namespace), byName)},
		{"watch its ConfigMap by name", watch(&corev1.ConfigMapList{}, client.InNamespace(framework.Namespace), byName)},
		{"list Reports", list(&reportsv1alpha1.ReportList{})},
		{"create a Report", func() error { return sa.Create(ctx, report) }},
		{"patch a Report", func() error {
			return sa.Patch(ctx, report, client.RawPatch("application/merge-patch+json", []byte(`{"source":"setwarden"}`)))
		}},
		{"delete a Report", func() error { return sa.Delete(ctx, report) }},
		{"create an events.k8s.io Event", func() error { return sa.Create(ctx, event) }},
		{"create a core Event", func() error { return sa.Create(ctx, coreEvent) }},
		{"get its Lease", func() error {
			return sa.Get(ctx, client.ObjectKey{Namespace: framework.Namespace, Name: "setwarden-audit"}, lease)
		}},
		{"update its Lease", func() error { return sa.Update(ctx, lease) }},
	}
	for _, a := range allowed {
		if err := a.do(); err != nil {
			t.Errorf("%s: %v, want allowed", a.name, err)
		}
	}

	other := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: framework.Namespace}}
	denied := []struct {
		name string
		do   func() error
	}{
		{"get a Deployment", func() error { return sa.Get(ctx, client.ObjectKeyFromObject(deploy), &appsv1.Deployment{}) }},
		{"create a Deployment", func() error {
			d := framework.WebDeployment(ns)
			d.Name = "sa-made"
			return sa.Create(ctx, d)
		}},
		{"update a Deployment", func() error { return sa.Update(ctx, deploy) }},
		{"delete a Deployment", func() error { return sa.Delete(ctx, deploy) }},
		{"delete a Service", func() error {
			return sa.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}})
		}},
		{"update a Node", func() error { return sa.Update(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}) }},
		{"list Secrets", list(&corev1.SecretList{})},
		{"list every ConfigMap", list(&corev1.ConfigMapList{})},
		{"list the ConfigMaps of its namespace", list(&corev1.ConfigMapList{}, client.InNamespace(framework.Namespace))},
		{"create a ConfigMap", func() error {
			return sa.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "setwarden-config", Namespace: framework.Namespace}})
		}},
		{"update a Report", func() error {
			r := report.DeepCopy()
			r.ResourceVersion = "1"
			return sa.Update(ctx, r)
		}},
		{"list ClusterReports", list(&reportsv1alpha1.ClusterReportList{})},
		{"delete an Event", func() error { return sa.Delete(ctx, coreEvent) }},
		{"list Events", list(&corev1.EventList{})},
		{"create a Lease", func() error { return sa.Create(ctx, other) }},
		{"list Leases", list(&coordinationv1.LeaseList{}, client.InNamespace(framework.Namespace))},
		{"list Namespaces", list(&corev1.NamespaceList{})},
		{"list ClusterRoles", list(&rbacv1.ClusterRoleList{})},
		{"create a ClusterRoleBinding", func() error {
			return sa.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "escalate"},
				RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects: []rbacv1.Subject{{Kind: "User", Name: auditSA}}})
		}},
	}
	for _, d := range denied {
		if err := d.do(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want Forbidden", d.name, err)
		}
	}
}
