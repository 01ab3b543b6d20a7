package perf

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/setwarden/setwarden/test/framework"
)

// nonHeadlessService is a Service with a cluster IP, in every arm's
// namespace, that a verdict case's StatefulSet names.
const nonHeadlessService = "db-clusterip"

// verdictCase is one object the verdict check creates (dry run) through
// every arm.
type verdictCase struct {
	name string
	// create sends the object to namespace ns and describes the outcome.
	create func(t *testing.T, cs *kubernetes.Clientset, ns string) string
	// differs names the arms known to decide otherwise, and why; the check
	// prints their verdict but does not fail on it.
	differs map[string]string
}

// verdictCases are the good and bad objects of the verdict check: each
// policy's pass and fail, the Service cases of the headless rule, and the
// agent DaemonSets the mutation must change or leave alone.
func verdictCases() []verdictCase {
	sts := func(mutate func(*appsv1.StatefulSet)) func(*testing.T, *kubernetes.Clientset, string) string {
		return func(t *testing.T, cs *kubernetes.Clientset, ns string) string {
			obj := validStatefulSet()
			obj.Namespace, obj.Name = ns, "verdict"
			mutate(obj)
			_, err := cs.AppsV1().StatefulSets(ns).Create(t.Context(), obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return outcome(err, nil)
		}
	}
	ds := func(agent bool, tolerations ...corev1.Toleration) func(*testing.T, *kubernetes.Clientset, string) string {
		return func(t *testing.T, cs *kubernetes.Clientset, ns string) string {
			obj := daemonSet(false)
			obj.Namespace = ns
			obj.Spec.Template.Spec.Tolerations = tolerations
			if !agent {
				obj.Labels = nil
			}
			got, err := cs.AppsV1().DaemonSets(ns).Create(t.Context(), obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return outcome(err, got)
		}
	}
	controlPlane := corev1.Toleration{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	return []verdictCase{
		{name: "valid StatefulSet", create: sts(func(*appsv1.StatefulSet) {})},
		{name: "StatefulSet without serviceName", create: sts(func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "" })},
		{name: "StatefulSet without volumeClaimTemplates", create: sts(func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates = nil
			s.Spec.Template.Spec.Containers[0].VolumeMounts = nil
		})},
		{name: "StatefulSet naming a Service with a cluster IP", create: sts(func(s *appsv1.StatefulSet) { s.Spec.ServiceName = nonHeadlessService }),
			differs: map[string]string{"native": "the native policies cannot read the Service (setwarden export --list)"}},
		{name: "StatefulSet naming a Service that does not exist", create: sts(func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "db-missing" })},
		{name: "agent DaemonSet without tolerations", create: ds(true)},
		{name: "agent DaemonSet tolerating the control-plane taint", create: ds(true, controlPlane)},
		{name: "DaemonSet that is not an agent", create: ds(false)},
		{name: "agent DaemonSet tolerating every taint", create: ds(true, corev1.Toleration{Operator: corev1.TolerationOpExists}),
			differs: map[string]string{"gatekeeper": "an Assign keys tolerations by key, so it does not see that a toleration without a key covers the taints"}},
	}
}

// outcome describes a dry-run create: denied, or admitted with the
// DaemonSet's toleration keys.
func outcome(err error, ds *appsv1.DaemonSet) string {
	switch {
	case err != nil && strings.Contains(err.Error(), "denied"):
		return "denied"
	case err != nil:
		return "error: " + err.Error()
	case ds == nil:
		return "admitted"
	}
	var keys []string
	for _, tol := range ds.Spec.Template.Spec.Tolerations {
		keys = append(keys, fmt.Sprintf("%s:%s:%s", tol.Key, tol.Operator, tol.Effect))
	}
	slices.Sort(keys)
	return fmt.Sprintf("admitted, tolerations [%s]", strings.Join(keys, " "))
}

// checkVerdicts installs each arm in turn (none excepted) and creates the
// verdict cases through it, and fails the test unless every arm decides as
// setwarden does, apart from the known differences. A case is retried for
// up to 30 s, while an engine's cache may still miss the Services.
func checkVerdicts(t *testing.T, env *framework.Env, cs *kubernetes.Clientset, arms []*apiArm) {
	t.Helper()
	for _, a := range arms {
		createObjects(t, env.Client, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: nonHeadlessService, Namespace: armNamespace(a)},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app.kubernetes.io/name": "db"}, Ports: []corev1.ServicePort{{Port: 5432}}}})
	}
	cases := verdictCases()
	want := map[string]string{}
	for _, a := range arms {
		if a.name == "none" {
			continue
		}
		installArm(t, env, cs, a)
		ns := armNamespace(a)
		for _, c := range cases {
			got := c.create(t, cs, ns)
			if a.name != "setwarden" {
				for start := time.Now(); got != want[c.name] && time.Since(start) < 30*time.Second; {
					time.Sleep(500 * time.Millisecond)
					got = c.create(t, cs, ns)
				}
			}
			switch {
			case a.name == "setwarden":
				want[c.name] = got
				fmt.Printf("perf: verdicts: %-52s %s\n", c.name, got)
			case got == want[c.name]:
				fmt.Printf("perf: verdicts: %-52s %-10s agrees\n", c.name, a.name)
			case c.differs[a.name] != "":
				fmt.Printf("perf: verdicts: %-52s %-10s differs, as known (%s): %s\n", c.name, a.name, c.differs[a.name], got)
			default:
				t.Errorf("arm %s, %s: %s; setwarden: %s", a.name, c.name, got, want[c.name])
			}
		}
		removeArm(t, env, cs, a)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestPeerVerdicts is the verdict check alone, without the measurement:
// setwarden, the native policies and each built peer engine on the same
// API server decide the verdict cases alike. It runs with SETWARDEN_PERF=1;
// TestAPIServerAdmission makes the same check before taking any figure.
func TestPeerVerdicts(t *testing.T) {
	env := startPerfEnv(t)
	dir := t.TempDir()
	bin := buildShipped(t, dir)
	_, caPEM := writeServingCert(t, dir)
	server := startServer(t, bin, env.Kubeconfig, dir, "webhook")
	defer server.stop()
	server.waitReady(t)
	var engines []*peerProcess
	for _, pe := range availablePeers() {
		p := pe.start(t, env)
		p.installPolicies(t, env)
		engines = append(engines, p)
	}
	arms := apiArms(t, server.port, caPEM, engines)
	for _, a := range arms {
		if err := createNamespaceWithService(t.Context(), env.Client, armNamespace(a)); err != nil {
			t.Fatal(err)
		}
	}
	checkVerdicts(t, env, loadClient(t, env.Config), arms)
}
