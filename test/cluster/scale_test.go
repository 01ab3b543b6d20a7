package cluster

import (
	"context"
	"flag"
	"fmt"
	"math"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/setwarden/setwarden/test/framework"
)

var scaleNodes = flag.Int("cluster.scale", 0,
	"run TestAgentDaemonSetAtScale with this many simulated Nodes, a tenth of them control-plane (0 skips it; the README's figures are for 1000)")

// admissionStats is what setwarden's metrics say about the Pod admissions
// it has decided: how many, how many denied, and the duration histogram.
type admissionStats struct {
	calls, denied uint64
	buckets       []float64 // upper bounds
	counts        []uint64  // cumulative
}

func gatherAdmissionStats(t *testing.T) admissionStats {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var s admissionStats
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "setwarden_admission_duration_seconds":
				if labels["kind"] != "Pod" {
					continue
				}
				h := m.GetHistogram()
				s.calls += h.GetSampleCount()
				for i, b := range h.GetBucket() {
					if len(s.buckets) <= i {
						s.buckets = append(s.buckets, b.GetUpperBound())
						s.counts = append(s.counts, 0)
					}
					s.counts[i] += b.GetCumulativeCount()
				}
			case "setwarden_admission_decisions_total":
				if labels["kind"] == "Pod" && labels["action"] == "Deny" {
					s.denied += uint64(m.GetCounter().GetValue())
				}
			}
		}
	}
	return s
}

// p99Since returns the upper bound of the histogram bucket holding the 99th
// percentile of the calls made since before.
func (s admissionStats) p99Since(before admissionStats) (float64, uint64) {
	calls := s.calls - before.calls
	if calls == 0 {
		return 0, 0
	}
	want := uint64(math.Ceil(0.99 * float64(calls)))
	for i, c := range s.counts {
		if i < len(before.counts) {
			c -= before.counts[i]
		}
		if c >= want {
			return s.buckets[i], calls
		}
	}
	return math.Inf(1), calls
}

// TestAgentDaemonSetAtScale: on 1,000 simulated Nodes (100 control-plane),
// an agent DaemonSet without tolerations reaches a ready pod on every one
// through setwarden's webhooks, with no failed admission. It prints the time
// to all-ready with setwarden and, for the same DaemonSet with its
// tolerations written out where the webhooks do not apply, without.
func TestAgentDaemonSetAtScale(t *testing.T) {
	total := *scaleNodes
	if total == 0 {
		t.Skip("run with -cluster.scale=1000")
	}
	controlPlane := total / 10
	zones := []string{"zone-a", "zone-b", "zone-c"}
	var nodes []*corev1.Node
	for i := range total {
		opts := []framework.NodeOption{framework.InZone(zones[i%len(zones)])}
		name := fmt.Sprintf("scale-worker-%d", i)
		if i < controlPlane {
			opts, name = append(opts, framework.ControlPlane()), fmt.Sprintf("scale-cp-%d", i)
		}
		nodes = append(nodes, framework.FakeNode(name, opts...))
	}
	start := time.Now()
	if err := env.CreateNodes(t.Context(), nodes...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.DeleteNodes(context.Background(), nodes...) })
	t.Logf("%d Nodes Ready in %s", total, time.Since(start).Round(100*time.Millisecond))
	want := int32(total + len(seedNodes))

	before := gatherAdmissionStats(t)
	ds := framework.AgentDaemonSet(newNamespace(t))
	withSetwarden := timeToAllReady(t, ds, want)
	after := gatherAdmissionStats(t)
	p99, calls := after.p99Since(before)
	failed := countEvents(t, ds.Namespace, "FailedCreate")
	t.Logf("with setwarden: %d/%d pods ready in %s; %d Pod admissions, %d denied, %d FailedCreate events, p99 <= %gs",
		want, want, withSetwarden.Round(100*time.Millisecond), calls, after.denied-before.denied, failed, p99)
	if calls < uint64(want) || after.denied != before.denied || failed != 0 {
		t.Errorf("want >= %d Pod admissions and none failed; got %d calls, %d denied, %d FailedCreate", want, calls, after.denied-before.denied, failed)
	}

	plain := framework.AgentDaemonSet(metav1.NamespaceSystem)
	plain.Name = "agent-scale"
	plain.Spec.Template.Spec.Tolerations = ds.Spec.Template.Spec.Tolerations // as setwarden wrote them
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), plain) })
	without := timeToAllReady(t, plain, want)
	t.Logf("without setwarden (tolerations written out, kube-system): %d/%d pods ready in %s", want, want, without.Round(100*time.Millisecond))
}

func timeToAllReady(t *testing.T, ds *appsv1.DaemonSet, want int32) time.Duration {
	t.Helper()
	start := time.Now()
	mustCreate(t, ds)
	got := &appsv1.DaemonSet{}
	framework.WaitFor(t, fmt.Sprintf("DaemonSet %s/%s to report %d pods ready", ds.Namespace, ds.Name, want), 10*time.Minute, func() bool {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(ds), got); err != nil {
			t.Fatal(err)
		}
		s := got.Status
		return s.DesiredNumberScheduled == want && s.NumberReady == want
	})
	return time.Since(start)
}

func countEvents(t *testing.T, ns, reason string) int {
	t.Helper()
	list := &corev1.EventList{}
	if err := env.Client.List(t.Context(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == reason {
			n++
		}
	}
	return n
}
