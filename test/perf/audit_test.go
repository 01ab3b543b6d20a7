package perf

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/setwarden/setwarden/cmd/setwarden/app"
	"github.com/setwarden/setwarden/test/framework"
)

// auditNamespaces spread the audited objects, as teams do.
const auditNamespaces = 50

// TestAuditOneShot measures a one-shot `setwarden audit -A -o json` on a
// real kube-apiserver holding the cluster the audit's target names: 5,000
// Deployments, 1,000 StatefulSets (each naming its headless Service), 200
// DaemonSets, 10,000 Services and 1,000 Nodes (target: 10 s on 2 cores).
// SETWARDEN_PERF_AUDIT_SCALE divides the counts, for a quick run. It prints
// figures and asserts no timings; it runs with SETWARDEN_PERF=1 (make bench).
func TestAuditOneShot(t *testing.T) {
	requirePerf(t)
	env, err := framework.Start(framework.Options{NoWebhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	ctx := t.Context()
	cluster := populateAudit(t, env)
	for run := range 3 {
		var stderr bytes.Buffer
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		code := app.Run(ctx, []string{"audit", "-A", "-o", "json", "--kubeconfig", env.Kubeconfig}, nil, io.Discard, &stderr)
		elapsed := time.Since(start)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if code != app.ExitOK && code != app.ExitDenied {
			t.Fatalf("audit exited %d: %s", code, stderr.String())
		}
		fmt.Printf("perf: audit: run %d: one-shot audit -A -o json in %s (GOMAXPROCS %d), %d MiB allocated, peak heap in use %d MiB\n",
			run+1, elapsed.Round(time.Millisecond), runtime.GOMAXPROCS(0), (after.TotalAlloc-before.TotalAlloc)>>20, after.HeapSys>>20)
		emit(t, Record{Target: 6, Figure: fmt.Sprintf("one-shot audit, run %d", run+1), Value: ms(elapsed), Unit: "ms", Limit: 10_000,
			Note: cluster.String()})
	}
}

// auditCluster is what populateAudit created.
type auditCluster struct {
	deployments, statefulSets, daemonSets, services, nodes int
}

func (c auditCluster) String() string {
	return fmt.Sprintf("%d Deployments, %d StatefulSets, %d DaemonSets, %d Services, %d Nodes", c.deployments, c.statefulSets, c.daemonSets, c.services, c.nodes)
}

// populateAudit creates the audited cluster: 5,000 Deployments, 1,000
// StatefulSets (each naming its headless Service), 200 DaemonSets, 10,000
// Services and 1,000 Nodes across auditNamespaces namespaces, the counts
// divided by SETWARDEN_PERF_AUDIT_SCALE.
func populateAudit(t *testing.T, env *framework.Env) auditCluster {
	t.Helper()
	ctx := t.Context()
	cs := loadClient(t, env.Config)
	scale := envInt("SETWARDEN_PERF_AUDIT_SCALE", 1)
	deployments, statefulSets, daemonSets, services, nodes := 5000/scale, 1000/scale, 200/scale, 10000/scale, 1000/scale
	for i := range auditNamespaces {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: auditNamespace(i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	createAll(t, services, func(i int) (metav1.Object, error) {
		return cs.CoreV1().Services(auditNamespace(i)).Create(ctx, auditService(i), metav1.CreateOptions{})
	})
	createAll(t, nodes, func(i int) (metav1.Object, error) {
		return cs.CoreV1().Nodes().Create(ctx, node(i), metav1.CreateOptions{})
	})
	createAll(t, deployments, func(i int) (metav1.Object, error) {
		return cs.AppsV1().Deployments(auditNamespace(i)).Create(ctx, auditDeployment(i), metav1.CreateOptions{})
	})
	createAll(t, statefulSets, func(i int) (metav1.Object, error) {
		return cs.AppsV1().StatefulSets(auditNamespace(i)).Create(ctx, auditStatefulSet(i), metav1.CreateOptions{})
	})
	createAll(t, daemonSets, func(i int) (metav1.Object, error) {
		return cs.AppsV1().DaemonSets(auditNamespace(i)).Create(ctx, auditDaemonSet(i), metav1.CreateOptions{})
	})
	fmt.Printf("perf: audit: created %d Deployments, %d StatefulSets, %d DaemonSets, %d Services and %d Nodes in %s\n",
		deployments, statefulSets, daemonSets, services, nodes, time.Since(start).Round(time.Millisecond))
	return auditCluster{deployments, statefulSets, daemonSets, services, nodes}
}

func auditNamespace(i int) string { return fmt.Sprintf("audit-%02d", i%auditNamespaces) }

func auditService(i int) *corev1.Service {
	name := fmt.Sprintf("db-%05d", i)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: auditNamespace(i), Labels: map[string]string{"app.kubernetes.io/name": name}},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app.kubernetes.io/name": name},
			Ports: []corev1.ServicePort{{Name: "tcp", Port: 5432, TargetPort: intstr.FromInt(5432)}}},
	}
}

// auditPodSpec is a pod spec with the placement a Helm chart typically
// sets: zone spread by preferred anti-affinity and a node selector.
func auditPodSpec(app string) corev1.PodTemplateSpec {
	labels := map[string]string{"app.kubernetes.io/name": app}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
			Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: "topology.kubernetes.io/zone"}}}}},
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + app + ":1.0",
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
		},
	}
}

func auditDeployment(i int) *appsv1.Deployment {
	name := fmt.Sprintf("web-%05d", i)
	tpl := auditPodSpec(name)
	tpl.Spec.Containers[0].VolumeMounts = nil
	replicas := int32(3)
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: auditNamespace(i)},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: tpl.Labels}, Template: tpl}}
}

// auditStatefulSet names the Service of the same index, so that it lives in
// its namespace.
func auditStatefulSet(i int) *appsv1.StatefulSet {
	svc := auditService(i)
	tpl := auditPodSpec(svc.Name)
	replicas := int32(3)
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas, ServiceName: svc.Name, Selector: &metav1.LabelSelector{MatchLabels: tpl.Labels}, Template: tpl,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": resource.MustParse("1Gi")}}}}}}}
}

func auditDaemonSet(i int) *appsv1.DaemonSet {
	name := fmt.Sprintf("agent-%05d", i)
	tpl := auditPodSpec(name)
	tpl.Spec.Containers[0].VolumeMounts = nil
	tpl.Spec.Affinity = nil
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: auditNamespace(i)},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: tpl.Labels}, Template: tpl}}
}
