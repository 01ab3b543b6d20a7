package cluster

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/test/framework"
)

// daemonSetSettles waits until the DaemonSet's status reports want pods
// scheduled and ready, and returns the nodes its pods run on.
func daemonSetSettles(t *testing.T, ds *appsv1.DaemonSet, want int32) []string {
	t.Helper()
	got := &appsv1.DaemonSet{}
	framework.WaitFor(t, fmt.Sprintf("DaemonSet %s/%s to report %d pods ready", ds.Namespace, ds.Name, want), settleTimeout, func() bool {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(ds), got); err != nil {
			t.Fatal(err)
		}
		s := got.Status
		return s.ObservedGeneration == got.Generation && s.DesiredNumberScheduled == want &&
			s.CurrentNumberScheduled == want && s.NumberReady == want && len(pods(t, ds.Namespace, "agent")) == int(want)
	})
	// A second later the controller still wants no more.
	time.Sleep(time.Second)
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(ds), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.DesiredNumberScheduled != want {
		t.Fatalf("DaemonSet %s/%s wants %d pods, want %d", ds.Namespace, ds.Name, got.Status.DesiredNumberScheduled, want)
	}
	return nodeNames(pods(t, ds.Namespace, "agent"))
}

func TestAgentDaemonSetRunsOnEveryNode(t *testing.T) {
	all, workers := []string{}, []string{}
	for _, n := range seedNodes {
		all = append(all, n.Name)
		if _, cp := n.Labels[framework.LabelControlPlane]; !cp {
			workers = append(workers, n.Name)
		}
	}
	slices.Sort(all)
	slices.Sort(workers)

	t.Run("through setwarden's webhooks, an agent DaemonSet without tolerations gets a pod on every node", func(t *testing.T) {
		ds := framework.AgentDaemonSet(newNamespace(t))
		mustCreate(t, ds)
		if got := daemonSetSettles(t, ds, controlPlaneNodes+workerNodes); !slices.Equal(got, all) {
			t.Errorf("the pods run on %v, want one on each of %v", got, all)
		}
	})
	t.Run("on a cluster without setwarden's webhooks, the same DaemonSet misses the control-plane nodes", func(t *testing.T) {
		plain, err := framework.Start(framework.Options{NoWebhooks: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = plain.Stop() })
		c, err := plain.StartCluster(t.Context(), framework.ClusterOptions{Nodes: seedNodes})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Stop)
		ds := framework.AgentDaemonSet(framework.Namespace)
		if err := plain.Client.Create(t.Context(), ds); err != nil {
			t.Fatal(err)
		}
		got := &appsv1.DaemonSet{}
		framework.WaitFor(t, "the DaemonSet to report its pods ready", settleTimeout, func() bool {
			if err := plain.Client.Get(t.Context(), client.ObjectKeyFromObject(ds), got); err != nil {
				t.Fatal(err)
			}
			s := got.Status
			return s.ObservedGeneration == got.Generation && s.DesiredNumberScheduled > 0 && s.NumberReady == s.DesiredNumberScheduled
		})
		time.Sleep(time.Second)
		if err := plain.Client.Get(t.Context(), client.ObjectKeyFromObject(ds), got); err != nil {
			t.Fatal(err)
		}
		if s := got.Status; s.DesiredNumberScheduled != workerNodes || s.NumberReady != workerNodes {
			t.Errorf("the DaemonSet wants %d pods and has %d ready, want %d and %d (the workers)", s.DesiredNumberScheduled, s.NumberReady, workerNodes, workerNodes)
		}
	})
	t.Run("where setwarden's webhooks do not apply, the same DaemonSet misses the control-plane nodes", func(t *testing.T) {
		// The webhooks' namespaceSelector leaves kube-system out, as a
		// cluster without setwarden would.
		ds := framework.AgentDaemonSet(metav1.NamespaceSystem)
		ds.Name = "agent-unguarded"
		mustCreate(t, ds)
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ds) })
		if got := daemonSetSettles(t, ds, workerNodes); !slices.Equal(got, workers) {
			t.Errorf("the pods run on %v, want one on each worker %v", got, workers)
		}
	})
	t.Run("a DaemonSet that is not an agent is left alone", func(t *testing.T) {
		ds := framework.AgentDaemonSet(newNamespace(t))
		ds.Labels = nil
		mustCreate(t, ds)
		if got := daemonSetSettles(t, ds, workerNodes); !slices.Equal(got, workers) {
			t.Errorf("the pods run on %v, want one on each worker %v", got, workers)
		}
		if tol := ds.Spec.Template.Spec.Tolerations; len(tol) != 0 {
			t.Errorf("setwarden added tolerations %v", tol)
		}
	})
}

// webStatefulSet is StatefulSet "web" of replicas pods, each mounting its
// own claim "data" of storage class storageClass.
func webStatefulSet(ns, storageClass string, replicas int32) (*appsv1.StatefulSet, *corev1.Service) {
	tmpl := framework.PodTemplate("web")
	tmpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: "web",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template:    tmpl,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: &storageClass,
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{"app": "web"},
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}
	return sts, svc
}

// hostPathVolume is a PersistentVolume of storage class storageClass that
// any claim of that class may bind.
func hostPathVolume(name, storageClass string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:              storageClass,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}},
		},
	}
}

func TestStatefulSetGetsDNSNamesAndClaims(t *testing.T) {
	const replicas = 3
	ns := newNamespace(t)
	// A storage class of this namespace's own, so that only its claims
	// bind these volumes.
	class := "manual-" + ns
	volumes := map[string]bool{}
	for i := range replicas {
		pv := hostPathVolume(fmt.Sprintf("%s-pv-%d", ns, i), class)
		mustCreate(t, pv)
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pv) })
		volumes[pv.Name] = true
	}
	sts, svc := webStatefulSet(ns, class, replicas)
	mustCreate(t, svc)
	if w := createWithWarnings(t, sts); len(w) != 0 {
		t.Fatalf("setwarden warned about a sound StatefulSet: %q", w)
	}

	// Each pod waits (FailedScheduling) until the PV controller binds its
	// claim, so the pods are awaited Ready rather than settled.
	var ready []corev1.Pod
	framework.WaitFor(t, "the 3 pods of StatefulSet web to be Ready", settleTimeout, func() bool {
		ready = ready[:0]
		for _, p := range pods(t, ns, "web") {
			if podReady(&p) {
				ready = append(ready, p)
			}
		}
		return len(ready) == replicas
	})
	for _, p := range ready {
		if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "web" {
			t.Errorf("pod %s has hostname %q and subdomain %q, want %q and %q", p.Name, p.Spec.Hostname, p.Spec.Subdomain, p.Name, "web")
		}
		claim := &corev1.PersistentVolumeClaim{}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "data-" + p.Name}, claim); err != nil {
			t.Errorf("pod %s has no claim of its own: %v", p.Name, err)
			continue
		}
		if claim.Status.Phase != corev1.ClaimBound || !volumes[claim.Spec.VolumeName] {
			t.Errorf("claim %s is %s to %q, want Bound to one of the pre-created volumes", claim.Name, claim.Status.Phase, claim.Spec.VolumeName)
		}
		delete(volumes, claim.Spec.VolumeName)
	}

	// The per-pod DNS records: the Service's EndpointSlices name every pod
	// by its hostname.
	framework.WaitFor(t, "the EndpointSlices of Service web to list every pod by hostname", settleTimeout, func() bool {
		slices := &discoveryv1.EndpointSliceList{}
		if err := env.Client.List(t.Context(), slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: "web"}); err != nil {
			t.Fatal(err)
		}
		hostnames := map[string]bool{}
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Hostname != nil && e.TargetRef != nil && e.TargetRef.Name == *e.Hostname {
					hostnames[*e.Hostname] = true
				}
			}
		}
		for i := range replicas {
			if !hostnames["web-"+strconv.Itoa(i)] {
				return false
			}
		}
		return true
	})
}

func TestDeniedStatefulSetNeverProducesPods(t *testing.T) {
	ns := newNamespace(t)
	sts := framework.BrokenStatefulSet(ns)
	err := env.Client.Create(t.Context(), sts)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("creating a StatefulSet without serviceName or claims: %v, want setwarden's denial", err)
	}
	time.Sleep(2 * time.Second)
	if got := pods(t, ns, "broken"); len(got) != 0 {
		t.Errorf("%d pods exist for the denied StatefulSet", len(got))
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(sts), &appsv1.StatefulSet{}); !apierrors.IsNotFound(err) {
		t.Errorf("the denied StatefulSet exists: %v", err)
	}
}

var leavingPending = regexp.MustCompile(`leaving (\d+) Pending`)

func TestAntiAffinityBeyondTheDomainsLeavesThePredictedPodsPending(t *testing.T) {
	ns := newNamespace(t)
	d := deployment(ns, "spread", workerNodes+1)
	d.Spec.Template.Spec.Affinity = antiAffinity("spread", framework.LabelHostname)
	warning := warningFor(createWithWarnings(t, d), policies.RulePodAntiAffinityExceedsDomains)
	m := leavingPending.FindStringSubmatch(warning)
	if m == nil {
		t.Fatalf("setwarden's %s warning names no number of Pending pods: %q", policies.RulePodAntiAffinityExceedsDomains, warning)
	}
	predicted, _ := strconv.Atoi(m[1])
	if predicted != 1 {
		t.Errorf("setwarden predicts %d Pending pods, want 1 (6 replicas, 5 schedulable workers): %q", predicted, warning)
	}
	placed := settle(t, ns, "spread", workerNodes+1)
	if len(placed.pending) != predicted {
		t.Fatalf("%d pods stay Pending, setwarden predicted %d", len(placed.pending), predicted)
	}
	for _, p := range placed.pending {
		if len(failedSchedulingEvents(t, &p)) == 0 {
			framework.WaitFor(t, "a FailedScheduling event for "+p.Name, settleTimeout, func() bool { return len(failedSchedulingEvents(t, &p)) > 0 })
		}
	}
}
