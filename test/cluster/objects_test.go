package cluster

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

// settleTimeout bounds every wait for the scheduler and controllers; they
// act within a second or two on an idle machine.
const settleTimeout = 90 * time.Second

func newNamespace(t *testing.T) string {
	t.Helper()
	name := "cluster-" + rand.String(6)
	mustCreate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	// No namespace controller runs, so the namespace stays Terminating; its
	// workloads are deleted here so that their pods leave the Nodes.
	t.Cleanup(func() {
		ctx := context.Background()
		for _, list := range []client.Object{&appsv1.Deployment{}, &appsv1.StatefulSet{}, &appsv1.DaemonSet{}} {
			_ = env.Client.DeleteAllOf(ctx, list, client.InNamespace(name), client.PropagationPolicy(metav1.DeletePropagationBackground))
		}
		_ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	})
	return name
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// createWithWarnings creates obj and returns setwarden's admission warnings.
func createWithWarnings(t *testing.T, obj client.Object) []string {
	t.Helper()
	env.Warnings.Take()
	mustCreate(t, obj)
	return env.Warnings.Take()
}

// pods lists the live (not terminating) pods labelled app=app in ns.
func pods(t *testing.T, ns, app string) []corev1.Pod {
	t.Helper()
	list := &corev1.PodList{}
	if err := env.Client.List(t.Context(), list, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
		t.Fatal(err)
	}
	var live []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

// unschedulable reports whether the scheduler has tried the pod and found
// no node for it.
func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return p.Spec.NodeName == ""
		}
	}
	return false
}

// podReady reports whether the pod is bound, Running and Ready.
func podReady(p *corev1.Pod) bool {
	if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// placement is where a workload's pods ended up once they settled.
type placement struct {
	ready, pending []corev1.Pod
}

// settle waits until want pods labelled app=app exist in ns and each is
// either Ready or found unschedulable by the scheduler, and stays so for a
// second (the scheduler retries an unschedulable pod on cluster events).
func settle(t *testing.T, ns, app string, want int) placement {
	t.Helper()
	var last placement
	stableSince := time.Time{}
	framework.WaitFor(t, "the pods of "+ns+"/"+app+" to settle", settleTimeout, func() bool {
		var now placement
		all := pods(t, ns, app)
		for _, p := range all {
			switch {
			case podReady(&p):
				now.ready = append(now.ready, p)
			case unschedulable(&p):
				now.pending = append(now.pending, p)
			}
		}
		if len(all) != want || len(now.ready)+len(now.pending) != want {
			stableSince = time.Time{}
			return false
		}
		if stableSince.IsZero() || len(now.ready) != len(last.ready) {
			stableSince, last = time.Now(), now
			return false
		}
		last = now
		return time.Since(stableSince) > time.Second
	})
	return last
}

// failedSchedulingEvents returns the messages of the FailedScheduling
// events about pod.
func failedSchedulingEvents(t *testing.T, pod *corev1.Pod) []string {
	t.Helper()
	list := &corev1.EventList{}
	if err := env.Client.List(t.Context(), list, client.InNamespace(pod.Namespace)); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range list.Items {
		if e.Reason == "FailedScheduling" && e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == pod.Name {
			msgs = append(msgs, e.Message)
		}
	}
	return msgs
}

// nodeNames returns the sorted names of the nodes the pods are bound to.
func nodeNames(pods []corev1.Pod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Spec.NodeName)
	}
	slices.Sort(names)
	return names
}

// warningFor returns the first warning of rule, "" if none.
func warningFor(warnings []string, rule string) string {
	for _, w := range warnings {
		if strings.HasPrefix(w, rule+": ") {
			return w
		}
	}
	return ""
}

// antiAffinity is a required anti-affinity term against the app's own pods.
func antiAffinity(app, topologyKey string) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			TopologyKey:   topologyKey,
		}},
	}}
}

// deployment is a Deployment of replicas pods labelled app=app.
func deployment(ns, app string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: framework.PodTemplate(app),
		},
	}
}
