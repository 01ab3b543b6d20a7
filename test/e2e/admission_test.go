package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	denied    = `admission webhook "validate.setwarden.dev" denied the request: `
	cpKey     = "node-role.kubernetes.io/control-plane"
	masterKey = "node-role.kubernetes.io/master"

	msgServiceName = `spec.serviceName: Required value: set it to a headless Service (clusterIP: None) that selects the pods, so each pod gets a stable DNS name (rule statefulset-service-name)`
	msgClaims      = `spec.volumeClaimTemplates: Required value: add a volumeClaimTemplate so each pod gets a PersistentVolumeClaim that outlives it (or use a Deployment for stateless pods) (rule statefulset-volume-claim-templates)`
)

var controlPlaneTolerations = []corev1.Toleration{
	{Key: cpKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: masterKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

func TestAgentDaemonSetMutation(t *testing.T) {
	ns := newNamespace(t)
	custom := corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "infra", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		obj  *appsv1.DaemonSet
		want []corev1.Toleration
	}{
		{
			name: "an agent DaemonSet gets both control-plane tolerations after its own",
			obj:  agentDaemonSet(ns, "node-exporter", custom),
			want: append([]corev1.Toleration{custom}, controlPlaneTolerations...),
		},
		{
			name: "an agent DaemonSet that already tolerates everything is untouched",
			obj:  agentDaemonSet(ns, "cilium", corev1.Toleration{Operator: corev1.TolerationOpExists}),
			want: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
		{
			name: "a non-agent DaemonSet is untouched",
			obj: func() *appsv1.DaemonSet {
				ds := agentDaemonSet(ns, "worker-only", custom)
				ds.Labels = nil
				return ds
			}(),
			want: []corev1.Toleration{custom},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := env.Client.Create(t.Context(), tt.obj); err != nil {
				t.Fatalf("create: %v", err)
			}
			got := &appsv1.DaemonSet{}
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(tt.obj), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Spec.Template.Spec.Tolerations); diff != "" {
				t.Fatalf("stored tolerations differ (-want +got):\n%s", diff)
			}
			// Re-applying the original manifest adds nothing more.
			again := tt.obj.DeepCopy()
			again.ResourceVersion = got.ResourceVersion
			if err := env.Client.Update(t.Context(), again); err != nil {
				t.Fatalf("update: %v", err)
			}
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(tt.obj), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Spec.Template.Spec.Tolerations); diff != "" {
				t.Errorf("tolerations after re-apply differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatefulSetValidation(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, service(ns, "cache", false, map[string]string{"app": "cache"}))
	mustCreate(t, service(ns, "wrong-selector", true, map[string]string{"app": "other"}))
	mustCreate(t, service(ns, "db-headless", true, map[string]string{"app": "db"}))
	tests := []struct {
		name    string
		obj     *appsv1.StatefulSet
		wantErr string
	}{
		{
			name:    "a StatefulSet without serviceName or claim templates is denied with both errors",
			obj:     statefulSet(ns, "no-service", "", false),
			wantErr: denied + `StatefulSet.apps "no-service" is invalid: [` + msgServiceName + `, ` + msgClaims + `]`,
		},
		{
			name: "a StatefulSet whose Service is not headless is denied",
			obj:  statefulSet(ns, "cache", "cache", true),
			wantErr: denied + `StatefulSet.apps "cache" is invalid: spec.serviceName: Invalid value: "cache": Service "cache" is not headless, ` +
				`so the pods get no stable DNS names; set clusterIP: None on it (or point spec.serviceName at a headless Service) (rule statefulset-service-headless)`,
		},
		{
			name: "a StatefulSet whose Service selector misses its pods is denied",
			obj:  statefulSet(ns, "db", "wrong-selector", true),
			wantErr: denied + `StatefulSet.apps "db" is invalid: spec.serviceName: Invalid value: "wrong-selector": the selector app=other of Service "wrong-selector" ` +
				`does not match the pod template labels, so the pods get no DNS records; make the selector a subset of spec.template.metadata.labels (rule statefulset-service-selector)`,
		},
		{
			name:    "a StatefulSet without claim templates is denied",
			obj:     statefulSet(ns, "db", "db-headless", false),
			wantErr: denied + `StatefulSet.apps "db" is invalid: ` + msgClaims,
		},
		{
			name: "a StatefulSet with a headless selecting Service and claim templates is admitted",
			obj:  statefulSet(ns, "db", "db-headless", true),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertCreate(t, tt.obj, tt.wantErr, nil)
		})
	}
}

func TestStatefulSetBeforeItsService(t *testing.T) {
	ns := newNamespace(t)
	assertCreate(t, statefulSet(ns, "kafka", "kafka-headless", true), "", []string{
		`statefulset-service-missing: no Service "kafka-headless" in namespace "` + ns + `"; create a headless Service (clusterIP: None) of that name that selects the pods`,
	})
	mustCreate(t, service(ns, "kafka-headless", true, map[string]string{"app": "kafka"}))
}

func TestAffinityValidation(t *testing.T) {
	ns := newNamespace(t)
	unsatisfiable := `spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1]: ` +
		`Invalid value: "topology.kubernetes.io/zone NotIn [a]": NotIn excludes every value that In allows for this label, so no node matches this term: remove the contradicting values (rule node-affinity-unsatisfiable)`
	emptySelector := `spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector: Invalid value: {}: ` +
		`an empty labelSelector repels every pod in the term's namespaces, this workload's own included; select only the pods to keep away from (rule pod-affinity-empty-selector)`
	tests := []struct {
		name    string
		obj     client.Object
		wantErr string
	}{
		{name: "a Deployment with an unsatisfiable required node term is denied", obj: deployment(ns, "web", unsatisfiableNodeAffinity()),
			wantErr: denied + `Deployment.apps "web" is invalid: ` + unsatisfiable},
		{name: "a Deployment with an empty required anti-affinity selector is denied", obj: deployment(ns, "web", emptyAntiAffinity()),
			wantErr: denied + `Deployment.apps "web" is invalid: ` + emptySelector},
		{name: "a Job with an unsatisfiable required node term is denied", obj: job(ns, "migrate", unsatisfiableNodeAffinity()),
			wantErr: denied + `Job.batch "migrate" is invalid: ` + unsatisfiable},
		{name: "a Job with an empty required anti-affinity selector is denied", obj: job(ns, "migrate", emptyAntiAffinity()),
			wantErr: denied + `Job.batch "migrate" is invalid: ` + emptySelector},
		{name: "a Deployment with valid affinity is admitted", obj: deployment(ns, "web", validAffinity("web"))},
		{name: "a Job with valid affinity is admitted", obj: job(ns, "migrate", validAffinity("migrate"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertCreate(t, tt.obj, tt.wantErr, nil)
		})
	}
}

func TestProtectedNamespacesAreNeverTouched(t *testing.T) {
	for _, ns := range []string{metav1.NamespaceSystem, "setwarden-system"} {
		t.Run("an agent DaemonSet and a broken StatefulSet in "+ns+" are admitted untouched", func(t *testing.T) {
			ds := agentDaemonSet(ns, "agent-"+ns)
			assertCreate(t, ds, "", nil)
			got := &appsv1.DaemonSet{}
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(ds), got); err != nil {
				t.Fatal(err)
			}
			if len(got.Spec.Template.Spec.Tolerations) != 0 {
				t.Errorf("DaemonSet in %s was mutated: %v", ns, got.Spec.Template.Spec.Tolerations)
			}
			assertCreate(t, statefulSet(ns, "broken-"+ns, "", false), "", nil)
		})
	}
}

// assertCreate creates obj and checks the exact error (empty: admitted) and
// the exact admission warnings; it deletes what it created.
func assertCreate(t *testing.T, obj client.Object, wantErr string, wantWarnings []string) {
	t.Helper()
	env.Warnings.Take()
	err := env.Client.Create(t.Context(), obj)
	warnings := env.Warnings.Take()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("create was refused: %v", err)
	case wantErr != "" && err == nil:
		_ = env.Client.Delete(t.Context(), obj)
		t.Fatalf("create was admitted, want error:\n%s", wantErr)
	case wantErr != "" && err.Error() != wantErr:
		t.Fatalf("wrong error:\n got: %s\nwant: %s", err.Error(), wantErr)
	}
	if err == nil {
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
	if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
		t.Errorf("warnings differ (-want +got):\n%s", diff)
	}
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

var _ = slices.Contains[[]string]
var _ = strings.Contains

func TestServiceCreatedAMomentAgoIsFound(t *testing.T) {
	ns := newNamespace(t)
	// No pause between the two creates: the informer cache may not have the
	// Service yet, and the live GET on a cache miss must find it.
	for i := range 5 {
		name := "quick-" + string(rune('a'+i))
		mustCreate(t, service(ns, name+"-headless", true, map[string]string{"app": name}))
		assertCreate(t, statefulSet(ns, name, name+"-headless", true), "", nil)
	}
}
