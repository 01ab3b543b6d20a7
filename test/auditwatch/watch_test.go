package auditwatch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/internal/audit"
	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/test/framework"
)

// fragileDeployment tolerates the control-plane taint by one value only:
// toleration-value-fragile, a Warn.
func fragileDeployment(namespace string) *appsv1.Deployment {
	d := framework.WebDeployment(namespace)
	d.Name = "fragile"
	d.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane",
		Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
	return d
}

func TestViolationsBecomeReportsAndEvents(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t)
	sts := framework.BrokenStatefulSet(ns)
	deploy := fragileDeployment(ns)
	for _, obj := range []client.Object{sts, deploy} {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}

	rep := waitReport(t, c, sts, "statefulset-service-name")
	if rep.Source != "setwarden" || rep.Labels["app.kubernetes.io/managed-by"] != "setwarden" {
		t.Errorf("source %q, labels %v; want setwarden", rep.Source, rep.Labels)
	}
	wantScope := corev1.ObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: ns, Name: "broken", UID: sts.UID}
	if rep.Scope == nil || *rep.Scope != wantScope {
		t.Errorf("scope %+v, want %+v", rep.Scope, wantScope)
	}
	wantOwner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "broken", UID: sts.UID}}
	if len(rep.OwnerReferences) != 1 || rep.OwnerReferences[0] != wantOwner[0] {
		t.Errorf("ownerReferences %+v, want %+v (garbage-collected with the StatefulSet)", rep.OwnerReferences, wantOwner)
	}
	var fails int
	for _, r := range rep.Results {
		if r.Policy == "statefulset-service-name" {
			if r.Rule != r.Policy || r.Result != "fail" || r.Severity != "high" || r.Source != "setwarden" ||
				r.Properties["field"] != "spec.serviceName" || r.Properties["action"] != "Deny" ||
				!strings.HasPrefix(r.Description, "spec.serviceName: Required value") || r.Timestamp.Seconds == 0 {
				t.Errorf("result %+v", r)
			}
		}
		if r.Result == "fail" {
			fails++
		}
	}
	if rep.Summary.Fail != fails || rep.Summary.Fail+rep.Summary.Warn != len(rep.Results) {
		t.Errorf("summary %+v does not count the %d results", rep.Summary, len(rep.Results))
	}

	drep := waitReport(t, c, deploy, "toleration-value-fragile")
	if len(drep.Results) != 1 || drep.Results[0].Result != "warn" || drep.Results[0].Severity != "medium" ||
		drep.Results[0].Properties["field"] != "spec.template.spec.tolerations[0].operator" {
		t.Errorf("Deployment's results %+v", drep.Results)
	}
	framework.WaitFor(t, "a PolicyViolation Event on the Deployment", 30*time.Second, func() bool {
		return len(violationEvents(t, deploy)) == 1
	})
	ev := violationEvents(t, deploy)[0]
	if ev.Type != corev1.EventTypeWarning || !strings.HasPrefix(ev.Message, "toleration-value-fragile (Warn): spec.template.spec.tolerations[0].operator: ") ||
		!strings.Contains(ev.Message, "use operator: Exists") {
		t.Errorf("Event %s %q", ev.Type, ev.Message)
	}
	framework.WaitFor(t, "one Event per finding of the StatefulSet", 30*time.Second, func() bool {
		return len(violationEvents(t, sts)) == len(rep.Results)
	})

	// A change that keeps the finding judges again without a new Event or
	// a Report write.
	before, writes := leader.metric(t, judgedObject), leader.reportWrites(t)
	deploy.Annotations = map[string]string{"touched": "yes"}
	if err := c.Update(t.Context(), deploy); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the Deployment judged again", 30*time.Second, func() bool { return leader.metric(t, judgedObject) > before })
	if got := leader.reportWrites(t); got != writes {
		t.Errorf("%v Report writes for an unchanged finding, want 0", got-writes)
	}
	if n := len(violationEvents(t, deploy)); n != 1 {
		t.Errorf("%d Events after re-evaluation, want still 1", n)
	}

	// Fixing the object deletes its Report.
	deploy.Spec.Template.Spec.Tolerations[0].Operator, deploy.Spec.Template.Spec.Tolerations[0].Value = corev1.TolerationOpExists, ""
	if err := c.Update(t.Context(), deploy); err != nil {
		t.Fatal(err)
	}
	waitNoReport(t, c, deploy)
}

func TestAnAdoptedObjectLosesItsReport(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t)
	owner := framework.WebDeployment(ns)
	fragile := fragileDeployment(ns)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{Selector: fragile.Spec.Selector, Template: fragile.Spec.Template}}
	for _, obj := range []client.Object{owner, rs} {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	waitReport(t, c, rs, "toleration-value-fragile")
	rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true)}}
	if err := c.Update(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	waitNoReport(t, c, rs)
}

func TestGoverningServiceChanges(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "db"},
			Ports: []corev1.ServicePort{{Port: 5432, TargetPort: intstr.FromInt32(5432)}}}}
	sts := framework.BrokenStatefulSet(ns)
	sts.Name, sts.Spec.ServiceName = "db", "db"
	sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels = map[string]string{"app": "db"}, map[string]string{"app": "db"}
	sts.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
	other := framework.BrokenStatefulSet(ns) // names no Service: never judged for a Service change
	for _, obj := range []client.Object{svc, sts, other} {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	waitReport(t, c, other, "statefulset-service-name")
	time.Sleep(2 * time.Second) // let the creations be judged
	if rep, ok := reportOf(t, c, ns, sts); ok {
		t.Fatalf("the StatefulSet with its Service has a Report: %+v", rep.Results)
	}

	const missing = `setwarden_audit_findings{action="Warn",rule="statefulset-service-missing"}`
	before, findings := leader.metric(t, judgedService), leader.metric(t, missing)
	if err := c.Delete(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	rep := waitReport(t, c, sts, "statefulset-service-missing")
	if rep.Results[0].Result != "warn" {
		t.Errorf("statefulset-service-missing is a Warn by default, got %q", rep.Results[0].Result)
	}
	if got := leader.metric(t, judgedService) - before; got != 1 {
		t.Errorf("deleting the Service judged %v objects again, want 1: the StatefulSet naming it", got)
	}
	if got := leader.metric(t, missing) - findings; got != 1 {
		t.Errorf("the findings gauge of statefulset-service-missing moved by %v, want 1", got)
	}

	svc.ResourceVersion = ""
	if err := c.Create(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	waitNoReport(t, c, sts)
	if got := leader.metric(t, judgedService) - before; got != 2 {
		t.Errorf("deleting and creating the Service judged %v objects again, want 2", got)
	}
	if got := leader.metric(t, missing); got != findings {
		t.Errorf("the findings gauge of statefulset-service-missing is %v after the fix, want %v", got, findings)
	}
}

func TestRelabellingTheGPUNodes(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t)
	var nodes []*corev1.Node
	for _, name := range []string{"gpu-a", "gpu-b"} {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"accelerator": "nvidia", "kubernetes.io/hostname": name}}}
		if err := c.Create(t.Context(), n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), n) })
		nodes = append(nodes, n)
	}
	trainer := framework.WebDeployment(ns)
	trainer.Name = "trainer"
	trainer.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "accelerator", Operator: corev1.NodeSelectorOpIn, Values: []string{"nvidia"}}}}}}}}
	time.Sleep(time.Second) // the Nodes reach the cache before the trainer is judged
	if err := c.Create(t.Context(), trainer); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the trainer judged", 30*time.Second, func() bool {
		return leader.metric(t, `setwarden_audit_findings{action="Warn",rule="node-affinity-no-matching-nodes"}`) >= 0
	})
	time.Sleep(2 * time.Second)
	if rep, ok := reportOf(t, c, ns, trainer); ok {
		t.Fatalf("the trainer has a Report while GPU nodes exist: %+v", rep.Results)
	}

	before := leader.metric(t, judgedNodes)
	for _, n := range nodes {
		n.Labels["accelerator"] = "none"
		if err := c.Update(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	rep := waitReport(t, c, trainer, "node-affinity-no-matching-nodes")
	if rep.Results[0].Properties["field"] != "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution" {
		t.Errorf("result %+v", rep.Results[0])
	}
	if leader.metric(t, judgedNodes) <= before {
		t.Errorf("the Node change was not counted as the cause of the re-judgement")
	}
}

func TestDryRunRaisesNothing(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t)
	deploy := fragileDeployment(ns)
	judged := leader.metric(t, judgedObject)
	if err := c.Create(t.Context(), deploy, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if got := leader.metric(t, judgedObject); got != judged {
		t.Errorf("a dry-run create was judged (%v)", got-judged)
	}
	list := &corev1.EventList{}
	if err := c.List(t.Context(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("a dry-run create raised %d Events", len(list.Items))
	}
}

func TestConfigChangeJudgesEverythingOnce(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t)
	deploy := fragileDeployment(ns)
	if err := c.Create(t.Context(), deploy); err != nil {
		t.Fatal(err)
	}
	waitReport(t, c, deploy, "toleration-value-fragile")
	time.Sleep(time.Second) // nothing else left to judge

	workloads := countWorkloads(t, c)
	judged, passesBefore := leader.metric(t, judgedConfig), leader.metric(t, passes)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "setwarden-config", Namespace: framework.Namespace},
		Data: map[string]string{"config.yaml": "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\nrules:\n  toleration-value-fragile: {action: \"Off\"}\n"}}
	if err := c.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), cm) })
	if err := leader.waitPasses(passesBefore + 1); err != nil {
		t.Fatal(err)
	}
	waitNoReport(t, c, deploy)
	time.Sleep(time.Second)
	if got := leader.metric(t, judgedConfig) - judged; got != float64(workloads) {
		t.Errorf("the config change judged %v objects, want every workload once: %d", got, workloads)
	}
	if got := leader.metric(t, passes); got != passesBefore+1 {
		t.Errorf("%v full passes for one config change, want 1", got-passesBefore)
	}
	// An invalid config is refused and the one in force stays.
	cm.Data["config.yaml"] = "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\nrules:\n  no-such-rule: {action: Deny}\n"
	if err := c.Update(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the invalid config refused", 30*time.Second, func() bool {
		return leader.metric(t, `setwarden_audit_config_reloads_total{result="error"}`) >= 1
	})
	if got := leader.metric(t, passes); got != passesBefore+1 {
		t.Errorf("an invalid config started a pass")
	}
}

// countWorkloads counts the workloads a full pass judges: every object of
// the judged kinds whose controller is not one of them.
func countWorkloads(t *testing.T, c client.Client) int {
	t.Helper()
	var n int
	for _, kind := range policies.Kinds() {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(kind.GroupVersion().WithKind(kind.Kind + "List"))
		if err := c.List(t.Context(), list); err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			if !audit.Controlled(&list.Items[i]) {
				n++
			}
		}
	}
	return n
}

// TestConfigFileWithoutEvents runs a watcher with --config FILE and
// --events=false in the leader's place (the leader steps down, and a new one
// takes over at the end): it reports what the file's PolicyConfig finds,
// raises no Event, follows a change of the file, and keeps its PolicyConfig
// when the file turns invalid.
func TestConfigFileWithoutEvents(t *testing.T) {
	c := adminClient(t)
	config := filepath.Join(t.TempDir(), "policyconfig.yaml")
	writeConfig := func(text string) {
		t.Helper()
		if err := os.WriteFile(config, []byte("apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n"+text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("rules:\n  statefulset-service-name: {action: \"Off\"}\n")
	leader.stop()
	file, err := startWatcher("config-file", "--config", config, "--config-poll-interval", "200ms", "--events=false")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		file.stop()
		if leader, err = startWatcher("leader-after-config-file"); err == nil {
			err = leader.waitPasses(1)
		}
		if err != nil {
			t.Errorf("restarting the leader: %v", err)
		}
	})
	if err := file.waitPasses(1); err != nil {
		t.Fatalf("%v\n%s", err, file.log())
	}

	ns := newNamespace(t)
	sts, deploy := framework.BrokenStatefulSet(ns), fragileDeployment(ns)
	for _, obj := range []client.Object{sts, deploy} {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	waitReport(t, c, deploy, "toleration-value-fragile")
	rep := waitReport(t, c, sts, "statefulset-volume-claim-templates")
	for _, r := range rep.Results {
		if r.Policy == "statefulset-service-name" {
			t.Errorf("the StatefulSet's Report has %s, which the file's PolicyConfig turns Off", r.Policy)
		}
	}
	time.Sleep(time.Second)
	if got := file.metric(t, events); got != 0 {
		t.Errorf("--events=false raised %v Events", got)
	}
	if n := len(violationEvents(t, deploy)) + len(violationEvents(t, sts)); n != 0 {
		t.Errorf("--events=false: %d PolicyViolation Events in the namespace", n)
	}

	// A change of the file is followed: the rule turned Off loses its Report.
	reloads := `setwarden_audit_config_reloads_total{result="success"}`
	before := file.metric(t, reloads)
	writeConfig("rules:\n  toleration-value-fragile: {action: \"Off\"}\n")
	framework.WaitFor(t, "the changed file reloaded", 30*time.Second, func() bool { return file.metric(t, reloads) > before })
	waitNoReport(t, c, deploy)
	waitReport(t, c, sts, "statefulset-service-name")

	// An invalid file is refused and the PolicyConfig in force stays.
	passesBefore := file.metric(t, passes)
	writeConfig("rules:\n  no-such-rule: {action: Deny}\n")
	framework.WaitFor(t, "the invalid file refused", 30*time.Second, func() bool {
		return file.metric(t, `setwarden_audit_config_reloads_total{result="error"}`) >= 1
	})
	time.Sleep(time.Second)
	if got := file.metric(t, passes); got != passesBefore {
		t.Errorf("an invalid file started a pass")
	}
	if _, ok := reportOf(t, c, ns, deploy); ok {
		t.Errorf("the invalid file's PolicyConfig was applied: the Deployment has a Report again")
	}
	for _, obj := range []client.Object{sts, deploy} {
		if err := c.Delete(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLeaderHandover runs last: a standby takes over from the leader that
// stops, writes nothing for the unchanged results, and nothing at all in a
// quiet period (20 s here, scaled down from a minute).
func TestLeaderHandover(t *testing.T) {
	standby, err := startWatcher("standby")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(standby.stop)
	framework.WaitFor(t, "the standby ready", 60*time.Second, standby.ready)
	time.Sleep(2 * time.Second)
	if got := standby.metric(t, judgedStart); got != 0 {
		t.Fatalf("the standby judged %v objects while the leader holds the Lease", got)
	}
	leader.stop()
	if err := standby.waitPasses(1); err != nil {
		t.Fatalf("%v\n%s", err, standby.log())
	}
	if got := standby.metric(t, judgedStart); got == 0 {
		t.Errorf("the new leader judged nothing")
	}
	if got := standby.reportWrites(t); got != 0 {
		t.Errorf("the new leader made %v Report writes for unchanged results, want 0", got)
	}
	if got := standby.metric(t, events); got != 0 {
		t.Errorf("the new leader raised %v Events for findings already reported, want 0", got)
	}
	time.Sleep(20 * time.Second)
	if got := standby.reportWrites(t); got != 0 {
		t.Errorf("%v Report writes in a quiet period of 20 s, want 0", got)
	}
}
