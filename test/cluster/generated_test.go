package cluster

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/test/framework"
)

var (
	generatedScenarios = flag.Int("cluster.scenarios", 24,
		"how many generated scenarios TestGeneratedPredictionsAgreeWithTheScheduler runs (make test runs 24; the full comparison, 500, with -parallel 8)")
	generatedSeed = flag.Uint64("cluster.seed", 18, "the seed of the generated scenarios")
)

// generate returns scenario i of the generated set: a pool of 2 to 6 Nodes
// with zones (some without), a disktype label, taints and cordons, and a
// Deployment of 1 to 7 replicas with a random mix of nodeSelector, required
// node affinity, tolerations and required or preferred pod (anti-)affinity
// on a hostname, zone or unknown topology key.
func generate(r *rand.Rand, i int) scenario {
	name := fmt.Sprintf("gen-%d", i)
	n := 2 + r.IntN(5)
	zones := []string{"zone-a", "zone-b", "zone-c"}
	opts := map[int][]framework.NodeOption{}
	nodeZones := []string{}
	ruledOut := false // some node is tainted or cordoned
	for j := range n {
		z := zones[r.IntN(len(zones))]
		if r.IntN(10) == 0 {
			z = ""
		}
		nodeZones = append(nodeZones, z)
		if r.IntN(2) == 0 {
			opts[j] = append(opts[j], framework.WithLabels(map[string]string{"disktype": "ssd"}))
		}
		if r.IntN(5) == 0 {
			opts[j] = append(opts[j], framework.WithTaints(dedicated))
			ruledOut = true
		}
		if r.IntN(10) == 0 {
			opts[j] = append(opts[j], framework.Cordoned())
			ruledOut = true
		}
	}
	// pool cycles through the zones it is given: one per node.
	sc := scenario{name: name, nodes: pool(name, n, nodeZones, opts), replicas: int32(1 + r.IntN(7))}
	keys := []string{framework.LabelHostname, framework.LabelZone, "example.com/rack"}
	selector := r.IntN(10) < 3
	affinityZones := []string{}
	if r.IntN(10) < 3 {
		for _, z := range append(zones, "zone-z") {
			if r.IntN(2) == 0 {
				affinityZones = append(affinityZones, z)
			}
		}
		if len(affinityZones) == 0 {
			affinityZones = []string{"zone-z"}
		}
	}
	tolerate := r.IntN(10) < 3
	podTerm := r.IntN(10)
	key := keys[r.IntN(len(keys))]
	sc.place = func(s *corev1.PodSpec) {
		if selector {
			s.NodeSelector["disktype"] = "ssd"
		}
		s.Affinity = &corev1.Affinity{}
		if len(affinityZones) > 0 {
			s.Affinity.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: framework.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: affinityZones}}}}}}
		}
		if tolerate {
			s.Tolerations = append(s.Tolerations, corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
		}
		term := corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}}, TopologyKey: key}
		switch {
		case podTerm < 5:
			s.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}
		case podTerm < 6:
			s.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 50, PodAffinityTerm: term}}}
		case podTerm < 7:
			s.Affinity.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}
		}
	}
	if selector || len(affinityZones) > 0 || ruledOut {
		sc.rules = append(sc.rules, policies.RuleNodeAffinityNoMatchingNodes)
	}
	if podTerm < 5 {
		sc.rules = append(sc.rules, policies.RulePodAntiAffinityExceedsDomains)
	}
	if podTerm < 7 && key == "example.com/rack" {
		sc.rules = append(sc.rules, policies.RuleTopologyKeyUnknown)
	}
	return sc
}

// TestGeneratedPredictionsAgreeWithTheScheduler compares setwarden check's
// verdict with the scheduler on generated scenarios, each on a pool of its
// own (so they run in parallel), and reports the agreement per rule.
func TestGeneratedPredictionsAgreeWithTheScheduler(t *testing.T) {
	r := rand.New(rand.NewPCG(*generatedSeed, 0))
	var scs []scenario
	for i := range *generatedScenarios {
		scs = append(scs, generate(r, i))
	}
	var mu sync.Mutex
	agreed, total, agreeing := agreement{}, 0, 0
	t.Cleanup(func() {
		agreed.report(t)
		t.Logf("%d/%d generated scenarios agree with the scheduler", agreeing, total)
	})
	for _, sc := range scs {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			if err := env.CreateNodes(t.Context(), sc.nodes...); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = env.DeleteNodes(context.Background(), sc.nodes...) })
			d := onPool(ns, sc)
			predicted, by := predictPending(checkOffline(t, sc.nodes, d), int(sc.replicas))
			mustCreate(t, d)
			observed := len(settle(t, ns, "app", int(sc.replicas)).pending)
			agree := predicted == observed
			mu.Lock()
			total++
			if agree {
				agreeing++
			}
			for _, rule := range sc.rules {
				agreed.add(rule, agree)
			}
			mu.Unlock()
			if !agree {
				t.Errorf("setwarden predicts %d of %d pods Pending (%v), the scheduler leaves %d; scenario:\n%s",
					predicted, sc.replicas, by, observed, scenarioYAML(t, sc.nodes, d))
			}
		})
	}
}
