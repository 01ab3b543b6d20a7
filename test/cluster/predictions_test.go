package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/cmd/setwarden/app"
	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/test/framework"
)

// poolLabel and poolTaint keep each scenario on Nodes of its own: the
// scenario's pods select and tolerate them, and every other workload
// (which does not tolerate the taint) stays off them.
const poolLabel = "setwarden.dev/pool"

// finding is one result of `setwarden check -o json`.
type finding struct {
	Rule, Action, Message string
}

// checkOffline runs `setwarden check -o json` on the Nodes and the workload
// together, as a user would on a manifest and an export of the cluster's
// Nodes, and returns the findings.
func checkOffline(t *testing.T, nodes []*corev1.Node, workload client.Object) []finding {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(path, []byte(scenarioYAML(t, nodes, workload)), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	app.Run(t.Context(), []string{"check", "-o", "json", path}, nil, &stdout, &stderr)
	var out struct{ Results []finding }
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("check output is not JSON (%v): %s %s", err, stdout.String(), stderr.String())
	}
	return out.Results
}

// scenarioYAML is the Nodes and the workload as one YAML stream.
func scenarioYAML(t *testing.T, nodes []*corev1.Node, workload client.Object) string {
	t.Helper()
	var doc bytes.Buffer
	for _, n := range nodes {
		n = n.DeepCopy()
		n.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Node"}
		appendYAML(t, &doc, n)
	}
	appendYAML(t, &doc, workload)
	return doc.String()
}

func appendYAML(t *testing.T, doc *bytes.Buffer, obj any) {
	t.Helper()
	b, err := sigsyaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	doc.WriteString("---\n")
	doc.Write(b)
}

// nodeRules are the cluster-aware rules whose predictions the scheduler
// checks.
var nodeRules = []string{
	policies.RuleNodeAffinityNoMatchingNodes, policies.RulePodAntiAffinityExceedsDomains, policies.RuleTopologyKeyUnknown,
}

// predictPending turns setwarden's findings into the number of pods it
// says stay Pending, and names the rules that said so.
func predictPending(findings []finding, replicas int) (int, []string) {
	pending, rules := 0, []string{}
	for _, f := range findings {
		n := -1
		switch {
		case f.Rule == policies.RuleNodeAffinityNoMatchingNodes:
			n = replicas
		case f.Rule == policies.RulePodAntiAffinityExceedsDomains:
			if m := leavingPending.FindStringSubmatch(f.Message); m != nil {
				n, _ = strconv.Atoi(m[1])
			} else {
				n = 0 // replicas fill the domains: only a rollout's surge pod waits
			}
		case f.Rule == policies.RuleTopologyKeyUnknown:
			n = 0
			if strings.Contains(f.Message, "stay Pending") {
				n = replicas
			}
		}
		if n >= 0 {
			rules = append(rules, f.Rule)
			pending = max(pending, n)
		}
	}
	return pending, rules
}

// scenario is a node pool and a Deployment placed on it.
type scenario struct {
	name     string
	nodes    []*corev1.Node
	replicas int32
	// place shapes the pod template's placement (the pool's selector and
	// toleration are added).
	place func(spec *corev1.PodSpec)
	// rules are the rules the scenario exercises, for the agreement table.
	rules []string
	// wantPending is what the scheduler does, written down so that a
	// scenario in which setwarden and the scheduler agree by both doing
	// nothing cannot pass unnoticed.
	wantPending int
}

// pool returns n Nodes of pool name in zones zones[i%len(zones)] ("" for
// none), shaped further by opts[i] where given.
func pool(name string, n int, zones []string, opts map[int][]framework.NodeOption) []*corev1.Node {
	var nodes []*corev1.Node
	for i := range n {
		o := []framework.NodeOption{
			framework.WithLabels(map[string]string{poolLabel: name}),
			framework.WithTaints(corev1.Taint{Key: poolLabel, Value: name, Effect: corev1.TaintEffectNoSchedule}),
		}
		if z := zones[i%len(zones)]; z != "" {
			o = append(o, framework.InZone(z))
		}
		nodes = append(nodes, framework.FakeNode(fmt.Sprintf("%s-%d", name, i+1), append(o, opts[i]...)...))
	}
	return nodes
}

var dedicated = corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}

func scenarios() []scenario {
	anti := func(key string) func(*corev1.PodSpec) {
		return func(s *corev1.PodSpec) { s.Affinity = antiAffinity("app", key) }
	}
	zones := []string{"zone-a", "zone-b"}
	return []scenario{
		{name: "hostname anti-affinity, 6 replicas on 4 nodes", nodes: pool("aa-host", 4, zones, nil), replicas: 6,
			place: anti(framework.LabelHostname), rules: []string{policies.RulePodAntiAffinityExceedsDomains}, wantPending: 2},
		{name: "zone anti-affinity, 3 replicas on 2 zones", nodes: pool("aa-zone", 4, zones, nil), replicas: 3,
			place: anti(framework.LabelZone), rules: []string{policies.RulePodAntiAffinityExceedsDomains}, wantPending: 1},
		{name: "hostname anti-affinity, 4 replicas on 4 nodes of which one has an untolerated taint", replicas: 4,
			nodes: pool("aa-taint", 4, zones, map[int][]framework.NodeOption{3: {framework.WithTaints(dedicated)}}),
			place: anti(framework.LabelHostname), rules: []string{policies.RulePodAntiAffinityExceedsDomains}, wantPending: 1},
		{name: "hostname anti-affinity, 4 replicas on 4 nodes of which one is cordoned", replicas: 4,
			nodes: pool("aa-cordon", 4, zones, map[int][]framework.NodeOption{0: {framework.Cordoned()}}),
			place: anti(framework.LabelHostname), rules: []string{policies.RulePodAntiAffinityExceedsDomains}, wantPending: 1},
		{name: "hostname anti-affinity, 3 replicas on 3 nodes whose taint the pods tolerate", replicas: 3,
			nodes: pool("aa-tolerated", 3, zones, map[int][]framework.NodeOption{0: {framework.WithTaints(dedicated)}, 1: {framework.WithTaints(dedicated)}, 2: {framework.WithTaints(dedicated)}}),
			place: func(s *corev1.PodSpec) {
				anti(framework.LabelHostname)(s)
				s.Tolerations = append(s.Tolerations, corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
			},
			rules: []string{policies.RulePodAntiAffinityExceedsDomains}, wantPending: 0},
		{name: "zone anti-affinity, 4 replicas where one node has no zone label", replicas: 4,
			nodes: pool("aa-nokey", 3, []string{"zone-a", "zone-b", ""}, nil),
			place: anti(framework.LabelZone), rules: []string{policies.RulePodAntiAffinityExceedsDomains}, wantPending: 0},
		{name: "preferred anti-affinity, 5 replicas on 2 nodes", nodes: pool("aa-preferred", 2, zones, nil), replicas: 5,
			place: func(s *corev1.PodSpec) {
				term := antiAffinity("app", framework.LabelHostname).PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
				s.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
					PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}}}}
			},
			rules: []string{policies.RulePodAntiAffinityExceedsDomains}, wantPending: 0},
		{name: "a nodeSelector no node matches", nodes: pool("na-none", 2, zones, nil), replicas: 2,
			place: func(s *corev1.PodSpec) { s.NodeSelector["disktype"] = "ssd" },
			rules: []string{policies.RuleNodeAffinityNoMatchingNodes}, wantPending: 2},
		{name: "required node affinity for a zone no node is in", nodes: pool("na-zone", 2, zones, nil), replicas: 2,
			place: func(s *corev1.PodSpec) { s.Affinity = zoneAffinity("zone-z") },
			rules: []string{policies.RuleNodeAffinityNoMatchingNodes}, wantPending: 2},
		{name: "required node affinity for a zone some nodes are in", nodes: pool("na-some", 2, zones, nil), replicas: 2,
			place: func(s *corev1.PodSpec) { s.Affinity = zoneAffinity("zone-b") },
			rules: []string{policies.RuleNodeAffinityNoMatchingNodes}, wantPending: 0},
		{name: "a nodeSelector only an untolerated tainted node matches", replicas: 2,
			nodes: pool("na-tainted", 2, zones, map[int][]framework.NodeOption{0: {framework.WithTaints(dedicated), framework.WithLabels(map[string]string{"disktype": "ssd"})}}),
			place: func(s *corev1.PodSpec) { s.NodeSelector["disktype"] = "ssd" },
			rules: []string{policies.RuleNodeAffinityNoMatchingNodes}, wantPending: 2},
		{name: "a nodeSelector only a cordoned node matches", replicas: 2,
			nodes: pool("na-cordoned", 2, zones, map[int][]framework.NodeOption{1: {framework.Cordoned(), framework.WithLabels(map[string]string{"disktype": "ssd"})}}),
			place: func(s *corev1.PodSpec) { s.NodeSelector["disktype"] = "ssd" },
			rules: []string{policies.RuleNodeAffinityNoMatchingNodes}, wantPending: 2},
		{name: "a nodeSelector a tainted node matches, with the toleration", replicas: 2,
			nodes: pool("na-tolerated", 2, zones, map[int][]framework.NodeOption{0: {framework.WithTaints(dedicated), framework.WithLabels(map[string]string{"disktype": "ssd"})}}),
			place: func(s *corev1.PodSpec) {
				s.NodeSelector["disktype"] = "ssd"
				s.Tolerations = append(s.Tolerations, corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule})
			},
			rules: []string{policies.RuleNodeAffinityNoMatchingNodes}, wantPending: 0},
		{name: "required anti-affinity on a topology key no node has", nodes: pool("tk-anti", 2, zones, nil), replicas: 3,
			place: anti("example.com/rack"), rules: []string{policies.RuleTopologyKeyUnknown}, wantPending: 0},
		{name: "required affinity on a topology key no node has", nodes: pool("tk-affinity", 2, zones, nil), replicas: 2,
			place: func(s *corev1.PodSpec) {
				s.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}}, TopologyKey: "example.com/rack"}}}}
			},
			rules: []string{policies.RuleTopologyKeyUnknown}, wantPending: 2},
		{name: "a DoNotSchedule spread constraint on a topology key no node has", nodes: pool("tk-spread", 2, zones, nil), replicas: 2,
			place: func(s *corev1.PodSpec) {
				s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "example.com/rack",
					WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}}}}
			},
			rules: []string{policies.RuleTopologyKeyUnknown}, wantPending: 2},
	}
}

func zoneAffinity(zone string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
			Key: framework.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{zone}}}}}}}}
}

// onPool is a Deployment "app" of replicas pods placed on the scenario's
// pool, with a rollout that takes an old pod down before it adds one (so
// that only the rollout scenarios see surge).
func onPool(ns string, sc scenario) *appsv1.Deployment {
	d := deployment(ns, "app", sc.replicas)
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}}
	spec := &d.Spec.Template.Spec
	name := sc.nodes[0].Labels[poolLabel]
	spec.NodeSelector = map[string]string{poolLabel: name}
	spec.Tolerations = []corev1.Toleration{{Key: poolLabel, Operator: corev1.TolerationOpEqual, Value: name, Effect: corev1.TaintEffectNoSchedule}}
	sc.place(spec)
	return d
}

// agreement counts, per rule, the scenarios where setwarden's prediction
// and the scheduler agree.
type agreement map[string]*[2]int

func (a agreement) add(rule string, agree bool) {
	if a[rule] == nil {
		a[rule] = &[2]int{}
	}
	a[rule][1]++
	if agree {
		a[rule][0]++
	}
}

func (a agreement) report(t *testing.T) {
	for _, rule := range nodeRules {
		if c := a[rule]; c != nil {
			t.Logf("%-36s %d/%d scenarios agree with the scheduler", rule, c[0], c[1])
		}
	}
}

func TestPredictionsAgreeWithTheScheduler(t *testing.T) {
	agreed := agreement{}
	defer agreed.report(t)
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			ns := newNamespace(t)
			if err := env.CreateNodes(t.Context(), sc.nodes...); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = env.DeleteNodes(context.Background(), sc.nodes...) })
			d := onPool(ns, sc)
			findings := checkOffline(t, sc.nodes, d)
			predicted, by := predictPending(findings, int(sc.replicas))
			for _, f := range findings {
				t.Logf("setwarden check: %s %s: %s", f.Action, f.Rule, f.Message)
			}
			mustCreate(t, d)
			placed := settle(t, ns, "app", int(sc.replicas))
			observed := len(placed.pending)
			agree := predicted == observed
			for _, rule := range sc.rules {
				agreed.add(rule, agree)
			}
			t.Logf("setwarden predicts %d Pending (%s); the scheduler leaves %d Pending", predicted, strings.Join(by, ", "), observed)
			if observed != sc.wantPending {
				t.Errorf("the scheduler leaves %d pods Pending, the scenario expects %d", observed, sc.wantPending)
			}
			if !agree {
				t.Errorf("setwarden predicts %d Pending pods, the scheduler leaves %d", predicted, observed)
			}
			for _, p := range placed.pending {
				if len(failedSchedulingEvents(t, &p)) == 0 {
					framework.WaitFor(t, "a FailedScheduling event for "+p.Name, settleTimeout, func() bool { return len(failedSchedulingEvents(t, &p)) > 0 })
				}
			}
		})
	}
}

var rolloutStalls = regexp.MustCompile(`rollout stalls`)

// TestRolloutPredictionsAgreeWithTheScheduler: a Deployment whose replicas
// fill every domain of its self anti-affinity rolls out only if the
// strategy lets an old pod go down first.
func TestRolloutPredictionsAgreeWithTheScheduler(t *testing.T) {
	cases := []struct {
		name            string
		nodes, replicas int
		surge, unavail  intstr.IntOrString
		wantStall       bool
	}{
		{name: "3 replicas on 3 nodes, the default 25% surge and 0 unavailable: the surge pod waits forever",
			nodes: 3, replicas: 3, surge: intstr.FromString("25%"), unavail: intstr.FromString("25%"), wantStall: true},
		{name: "3 replicas on 3 nodes, maxSurge 0 and maxUnavailable 1: the rollout completes",
			nodes: 3, replicas: 3, surge: intstr.FromInt32(0), unavail: intstr.FromInt32(1)},
		{name: "4 replicas on 4 nodes, the default 25% surge and 1 unavailable: the surge pod waits for an old pod to go",
			nodes: 4, replicas: 4, surge: intstr.FromString("25%"), unavail: intstr.FromString("25%")},
	}
	agreed := agreement{}
	defer agreed.report(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			sc := scenario{nodes: pool(fmt.Sprintf("rollout-%d", i), tc.nodes, []string{"zone-a"}, nil), replicas: int32(tc.replicas),
				place: func(s *corev1.PodSpec) { s.Affinity = antiAffinity("app", framework.LabelHostname) }}
			if err := env.CreateNodes(t.Context(), sc.nodes...); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = env.DeleteNodes(context.Background(), sc.nodes...) })
			d := onPool(ns, sc)
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &tc.surge, MaxUnavailable: &tc.unavail}
			predictStall := false
			for _, f := range checkOffline(t, sc.nodes, d) {
				predictStall = predictStall || (f.Rule == policies.RulePodAntiAffinityExceedsDomains && rolloutStalls.MatchString(f.Message))
			}
			mustCreate(t, d)
			if placed := settle(t, ns, "app", tc.replicas); len(placed.pending) != 0 {
				t.Fatalf("%d pods Pending before the rollout", len(placed.pending))
			}
			stalled := rolloutStalled(t, d)
			agreed.add(policies.RulePodAntiAffinityExceedsDomains, predictStall == stalled)
			t.Logf("setwarden predicts a stall: %v; the rollout stalls: %v", predictStall, stalled)
			if stalled != tc.wantStall || predictStall != stalled {
				t.Errorf("the rollout stalls: %v, setwarden predicts a stall: %v, the scenario expects %v", stalled, predictStall, tc.wantStall)
			}
		})
	}
}

// rolloutStalled changes the Deployment's pod template and reports whether
// the rollout fails to complete within 15 seconds while a new pod is
// unschedulable.
func rolloutStalled(t *testing.T, d *appsv1.Deployment) bool {
	t.Helper()
	got := &appsv1.Deployment{}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(d), got); err != nil {
		t.Fatal(err)
	}
	got.Spec.Template.Annotations = map[string]string{"rollout": "2"}
	if err := env.Client.Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	want := *d.Spec.Replicas
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(d), got); err != nil {
			t.Fatal(err)
		}
		s := got.Status
		if s.ObservedGeneration == got.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want && s.Replicas == want {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range pods(t, d.Namespace, "app") {
		if unschedulable(&p) {
			return true
		}
	}
	t.Fatalf("the rollout neither completed nor left a pod unschedulable: %+v", got.Status)
	return false
}
