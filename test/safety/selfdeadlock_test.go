package safety

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

// systemWorkloads returns one object of every kind the webhooks match (and
// a few they do not), each violating setwarden's rules where it can: in a
// system namespace they must be created and updated without the webhook.
func systemWorkloads(ns string) []client.Object {
	sts := brokenStatefulSet(ns, "sts")
	tpl := brokenStatefulSet(ns, "workload").Spec.Template
	selector := &metav1.LabelSelector{MatchLabels: tpl.Labels}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	job := batchv1.JobSpec{Template: *tpl.DeepCopy()}
	job.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	return []client.Object{
		&appsv1.Deployment{ObjectMeta: meta("deployment"), Spec: appsv1.DeploymentSpec{Selector: selector, Template: tpl}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns, Labels: map[string]string{"setwarden.dev/agent": "true"}},
			Spec: appsv1.DaemonSetSpec{Selector: selector, Template: tpl}},
		sts,
		&appsv1.ReplicaSet{ObjectMeta: meta("replicaset"), Spec: appsv1.ReplicaSetSpec{Selector: selector, Template: tpl}},
		&corev1.ReplicationController{ObjectMeta: meta("rc"), Spec: corev1.ReplicationControllerSpec{Selector: tpl.Labels, Template: &tpl}},
		&corev1.Pod{ObjectMeta: meta("pod"), Spec: tpl.Spec},
		&batchv1.Job{ObjectMeta: meta("job"), Spec: job},
		&batchv1.CronJob{ObjectMeta: meta("cronjob"), Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: job}}},
		&corev1.ConfigMap{ObjectMeta: meta("config"), Data: map[string]string{"a": "b"}},
		&corev1.Secret{ObjectMeta: meta("secret"), StringData: map[string]string{"a": "b"}},
		&corev1.ServiceAccount{ObjectMeta: meta("sa")},
		&corev1.Service{ObjectMeta: meta("svc"), Spec: corev1.ServiceSpec{Selector: tpl.Labels, Ports: []corev1.ServicePort{{Port: 80}}}},
		&coordinationv1.Lease{ObjectMeta: meta("lease"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("setwarden-0")}},
	}
}

// createThenUpdate creates obj, then updates it (a new label), as a
// controller or `kubectl apply` would.
func createThenUpdate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	kind := fmt.Sprintf("%T %s/%s", obj, obj.GetNamespace(), obj.GetName())
	if err := c.Create(t.Context(), obj); err != nil {
		t.Fatalf("creating %s while setwarden is down: %v", kind, err)
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["safety.setwarden.dev/updated"] = "true"
	obj.SetLabels(labels)
	if err := c.Update(t.Context(), obj); err != nil {
		t.Fatalf("updating %s while setwarden is down: %v", kind, err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), obj) })
}

func TestWebhookDownSystemNamespacesStillWork(t *testing.T) {
	env := webhookDown(t)
	for _, ns := range []string{metav1.NamespaceSystem, framework.Namespace} {
		for _, obj := range systemWorkloads(ns) {
			t.Run(fmt.Sprintf("a %T in %s is created and updated while setwarden is down", obj, ns), func(t *testing.T) {
				createThenUpdate(t, env.Client, obj)
			})
		}
	}
}

func TestWebhookDownFailsClosedInOrdinaryNamespaces(t *testing.T) {
	env := webhookDown(t)
	ns := newNamespace(t, env.Client)
	callFailed := `Internal error occurred: failed calling webhook "validate.setwarden.dev": failed to call webhook: Post "` +
		env.URL + `?timeout=5s": dial tcp ` + env.Addr + `: connect: connection refused`
	tests := []struct {
		name string
		obj  client.Object
	}{
		{name: "a StatefulSet is refused with the API server's webhook error", obj: brokenStatefulSet(ns, "db")},
		{name: "a Pod is refused with the API server's webhook error", obj: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "pod", Namespace: ns},
			Spec:       brokenStatefulSet(ns, "pod").Spec.Template.Spec,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := env.Client.Create(t.Context(), tt.obj)
			if err == nil {
				t.Fatal("created while the validating webhook (failurePolicy: Fail) is down")
			}
			if err.Error() != callFailed {
				t.Errorf("error text differs:\n got: %s\nwant: %s", err, callFailed)
			}
		})
	}
}

func TestWebhookDownClusterPlumbingIsNeverMatched(t *testing.T) {
	env := webhookDown(t)
	ns := newNamespace(t, env.Client)
	now := metav1.NowMicro()
	tests := []struct {
		name string
		obj  client.Object
	}{
		{name: "a Node", obj: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + utilrand.String(5)}}},
		{name: "a node heartbeat Lease in kube-node-lease", obj: &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "node-" + utilrand.String(5), Namespace: corev1.NamespaceNodeLease},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node"), LeaseDurationSeconds: ptr.To[int32](40)}}},
		{name: "a leader-election Lease in an ordinary namespace", obj: &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "leader", Namespace: ns},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("replica-0")}}},
		{name: "a core/v1 Event in an ordinary namespace", obj: &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "event", Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: "StatefulSet", Namespace: ns, Name: "db"},
			Reason:         "Test", Message: "setwarden is down", Type: corev1.EventTypeWarning}},
		{name: "an events.k8s.io/v1 Event in an ordinary namespace", obj: &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: "event-v1", Namespace: ns},
			EventTime:  now, ReportingController: "setwarden.dev/safety", ReportingInstance: "safety-0",
			Action: "Test", Reason: "Test", Type: corev1.EventTypeNormal,
			Regarding: corev1.ObjectReference{Kind: "StatefulSet", Namespace: ns, Name: "db"}}},
		{name: "a CertificateSigningRequest", obj: certificateSigningRequest(t)},
		{name: "a Namespace", obj: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "safety-" + utilrand.String(6)}}},
		{name: "a ConfigMap in an ordinary namespace", obj: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config", Namespace: ns}}},
		{name: "a Service in an ordinary namespace", obj: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "db"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is created and updated while setwarden is down", func(t *testing.T) {
			createThenUpdate(t, env.Client, tt.obj)
		})
	}
	t.Run("a CertificateSigningRequest is approved while setwarden is down", func(t *testing.T) {
		csr := certificateSigningRequest(t)
		if err := env.Client.Create(t.Context(), csr); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), csr) })
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "SafetyTest", Message: "approved while setwarden is down"})
		if err := env.Client.SubResource("approval").Update(t.Context(), csr); err != nil {
			t.Fatalf("approving: %v", err)
		}
	})
	t.Run("a ServiceAccount token is issued and reviewed while setwarden is down", func(t *testing.T) {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns}}
		if err := env.Client.Create(t.Context(), sa); err != nil {
			t.Fatal(err)
		}
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}
		if err := env.Client.SubResource("token").Create(t.Context(), sa, tr); err != nil {
			t.Fatalf("requesting a token: %v", err)
		}
		review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token}}
		if err := env.Client.Create(t.Context(), review); err != nil {
			t.Fatalf("reviewing the token: %v", err)
		}
		if want := "system:serviceaccount:" + ns + ":reader"; !review.Status.Authenticated || review.Status.User.Username != want {
			t.Errorf("token review: authenticated=%v user=%q error=%q, want %s", review.Status.Authenticated,
				review.Status.User.Username, review.Status.Error, want)
		}
	})
}

// certificateSigningRequest returns a CSR for a custom signer, with a real
// PKCS#10 request (the API server parses it).
func certificateSigningRequest(t *testing.T) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "safety"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "safety-" + utilrand.String(6)},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName:        "setwarden.dev/safety-test",
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature},
			ExpirationSeconds: ptr.To[int32](int32((time.Hour).Seconds())),
		},
	}
}

// newNamespace creates an ordinary namespace for one test.
func newNamespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "safety-" + utilrand.String(6)}}
	if err := c.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
	return ns.Name
}
