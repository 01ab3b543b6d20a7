package fidelity

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/policies"
)

// nodesView is a cluster that has exactly these nodes and nothing else.
type nodesView []*corev1.Node

func (nodesView) Service(context.Context, string, string) (*corev1.Service, bool, error) {
	return nil, false, policies.ErrNoData
}

func (v nodesView) Nodes(context.Context) ([]*corev1.Node, error) {
	return append([]*corev1.Node{}, v...), nil
}

// placementVerdict is setwarden's view of one placement case.
type placementVerdict struct {
	findings map[string][]policies.Finding
}

func (v placementVerdict) has(rule string, action policies.Action) bool {
	for _, f := range v.findings[rule] {
		if action == "" || f.Action == action {
			return true
		}
	}
	return false
}

// flagged reports whether node-affinity-unsatisfiable names the term at path.
func (v placementVerdict) flagged(path *field.Path) bool {
	p := path.String()
	for _, f := range v.findings[policies.RuleNodeAffinityUnsatisfiable] {
		if f.Err.Field == p || strings.HasPrefix(f.Err.Field, p+".") {
			return true
		}
	}
	return false
}

func evaluatePlacement(ctx context.Context, p Placement) placementVerdict {
	report := policies.NewEngine(nil).Evaluate(ctx, policies.Request{Object: p.Pod, View: nodesView(p.Nodes), Mode: policies.ModeOffline})
	v := placementVerdict{findings: map[string][]policies.Finding{}}
	for _, f := range report.Findings {
		v.findings[f.Rule] = append(v.findings[f.Rule], f)
	}
	return v
}

// schedulerMatches reports whether the scheduler's own filters on a node
// admit node for pod: NodeAffinity (nodeSelector and required terms), and
// for a pod the scheduler places (no spec.nodeName) NodeUnschedulable and
// TaintToleration, as those plugins read the node with component-helpers,
// once the node is ready: the node lifecycle controller then lifts the
// not-ready taint, which setwarden does not count on purpose.
func schedulerMatches(pod *corev1.Pod, node *corev1.Node) bool {
	node = node.DeepCopy()
	node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeNotReady })
	ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)
	if !ok || err != nil {
		return false
	}
	if pod.Spec.NodeName != "" {
		return true
	}
	if node.Spec.Unschedulable && !corev1helpers.TolerationsTolerateTaint(klog.Background(), pod.Spec.Tolerations,
		&corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}, false) {
		return false
	}
	_, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations,
		func(t *corev1.Taint) bool {
			return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
		}, false)
	return !untolerated
}

// requiredOf returns the pod's required node affinity, or nil.
func requiredOf(pod *corev1.Pod) *corev1.NodeSelector {
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return nil
}

// termMatches reports whether the scheduler matches node with one term.
func termMatches(term corev1.NodeSelectorTerm, node *corev1.Node) bool {
	ok, err := nodeaffinity.NewLazyErrorNodeSelector(&corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{term}}).Match(node)
	return ok && err == nil
}

// placementStats counts what the scheduler test checked.
type placementStats struct {
	cases, agreed, skipped, terms, unsatisfiable, witnesses, noMatch int
}

// checkPlacement compares setwarden with the scheduler on one case and
// returns the disagreements.
func checkPlacement(ctx context.Context, p Placement, stats *placementStats) []string {
	v := evaluatePlacement(ctx, p)
	if v.has(policies.RuleAffinityInvalid, "") {
		stats.skipped++ // kube-apiserver rejects it: no scheduling semantics
		return nil
	}
	stats.cases++
	var problems []string
	schedNone := true
	for _, node := range p.Nodes {
		if schedulerMatches(p.Pod, node) {
			schedNone = false
		}
	}
	noMatch := v.has(policies.RuleNodeAffinityNoMatchingNodes, "")
	unsat := v.has(policies.RuleNodeAffinityUnsatisfiable, policies.ActionDeny)
	conflict := v.has(policies.RuleNodeAffinityConflictsSelector, "")
	if noMatch {
		stats.noMatch++
	}
	// A pod without nodeSelector or required node affinity has no
	// placement to report on a cluster without nodes.
	constrained := len(p.Pod.Spec.NodeSelector) > 0 || requiredOf(p.Pod) != nil
	if !constrained && len(p.Nodes) == 0 {
		schedNone = false
	}
	if (noMatch || unsat || conflict) != schedNone {
		problems = append(problems, fmt.Sprintf("the scheduler matches no node: %t; setwarden: no-matching-nodes %t, unsatisfiable %t, conflicts-node-selector %t",
			schedNone, noMatch, unsat, conflict))
	}
	if noMatch && (unsat || conflict) {
		problems = append(problems, "no-matching-nodes repeats an unsatisfiable or conflicting placement")
	}
	problems = append(problems, checkTerms(p, v, stats)...)
	return append(problems, checkNodeSelectorConflict(p, v, unsat, conflict)...)
}

// checkTerms checks every required and preferred term: a term called
// unsatisfiable matches no generated node and has no witness; any other
// term has a witness the scheduler matches.
func checkTerms(p Placement, v placementVerdict, stats *placementStats) []string {
	var problems []string
	na := p.Pod.Spec.Affinity
	if na == nil || na.NodeAffinity == nil {
		return nil
	}
	naPath := field.NewPath("spec", "affinity", "nodeAffinity")
	type pathTerm struct {
		path *field.Path
		term corev1.NodeSelectorTerm
	}
	var terms []pathTerm
	if req := na.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
		for i, term := range req.NodeSelectorTerms {
			terms = append(terms, pathTerm{naPath.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms").Index(i), term})
		}
	}
	for i, pref := range na.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		terms = append(terms, pathTerm{naPath.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i).Child("preference"), pref.Preference})
	}
	for _, t := range terms {
		stats.terms++
		witness, built := Witness(t.term, nil)
		witnessMatches := built && termMatches(t.term, witness)
		if built && !witnessMatches {
			problems = append(problems, fmt.Sprintf("%s: witness builder gap: the scheduler does not match witness %v", t.path, witness.Labels))
		}
		if v.flagged(t.path) {
			stats.unsatisfiable++
			for _, node := range p.Nodes {
				if termMatches(t.term, node) {
					problems = append(problems, fmt.Sprintf("%s is called unsatisfiable but the scheduler matches node %s", t.path, node.Name))
				}
			}
			if witnessMatches {
				problems = append(problems, fmt.Sprintf("%s is called unsatisfiable but node %s %v matches it", t.path, witness.Name, witness.Labels))
			}
			continue
		}
		if !witnessMatches {
			problems = append(problems, fmt.Sprintf("%s is not called unsatisfiable but no matching node could be built", t.path))
			continue
		}
		stats.witnesses++
	}
	return problems
}

// checkNodeSelectorConflict checks node-affinity-conflicts-node-selector:
// when it is not reported (and the required terms are satisfiable) some
// node satisfies the nodeSelector and a required term; when it is, none
// can be built.
func checkNodeSelectorConflict(p Placement, v placementVerdict, unsat, conflict bool) []string {
	spec := p.Pod.Spec
	if len(spec.NodeSelector) == 0 || spec.Affinity == nil || spec.Affinity.NodeAffinity == nil ||
		spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil || unsat {
		return nil
	}
	var matching *corev1.Node
	for _, term := range spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if node, ok := Witness(term, spec.NodeSelector); ok && schedulerMatches(p.Pod, node) {
			matching = node
			break
		}
	}
	switch {
	case conflict && matching != nil:
		return []string{fmt.Sprintf("conflicts-node-selector is reported but node %v satisfies the nodeSelector and a required term", matching.Labels)}
	case !conflict && matching == nil:
		return []string{"conflicts-node-selector is not reported but no node satisfying the nodeSelector and a required term could be built"}
	}
	return nil
}

// TestSchedulerAgreement is the second differential test: setwarden's
// node-affinity verdicts against the scheduler's matching on generated
// nodes, and against nodes built to match each term.
func TestSchedulerAgreement(t *testing.T) {
	placements := GeneratePlacements(schedulerVariants())
	start := time.Now()
	stats := &placementStats{}
	var report []string
	failed := 0
	for _, p := range placements {
		problems := checkPlacement(t.Context(), p, stats)
		if len(problems) == 0 {
			stats.agreed++
			continue
		}
		failed++
		if len(report) < 15 {
			report = append(report, describePlacement(p, problems))
		}
	}
	elapsed := time.Since(start)
	t.Logf("scheduler agreement %d/%d (%.2f%%) in %s; %d cases kube-apiserver would reject skipped; no-matching-nodes reported on %d; %d terms: %d unsatisfiable, %d with a matching witness node",
		stats.agreed-stats.skipped, stats.cases, 100*float64(stats.agreed-stats.skipped)/float64(max(stats.cases, 1)), elapsed.Round(time.Millisecond),
		stats.skipped, stats.noMatch, stats.terms, stats.unsatisfiable, stats.witnesses)
	if failed > 0 {
		t.Errorf("%d placement cases disagree; the first ones:\n%s", failed, strings.Join(report, "\n"))
	}
}

// describePlacement renders a disagreeing case.
func describePlacement(p Placement, problems []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n", p.Pod.Name)
	for _, problem := range problems {
		fmt.Fprintf(&b, "  %s\n", problem)
	}
	spec, _ := yaml.Marshal(map[string]any{"nodeSelector": p.Pod.Spec.NodeSelector, "affinity": p.Pod.Spec.Affinity})
	b.Write(spec)
	for _, node := range p.Nodes {
		fmt.Fprintf(&b, "  node %s %v taints %v unschedulable %t\n", node.Name, node.Labels, node.Spec.Taints, node.Spec.Unschedulable)
	}
	return b.String()
}
