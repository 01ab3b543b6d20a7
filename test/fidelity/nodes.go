package fidelity

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Placement is one case of the scheduler differential test: a pod's
// placement (nodeSelector and node affinity) and a cluster's nodes.
type Placement struct {
	// Pod carries the nodeSelector and affinity.
	Pod *corev1.Pod
	// Nodes are the cluster's nodes (possibly none).
	Nodes []*corev1.Node
}

// The scheduler test draws keys and values from small alphabets so that
// generated terms and nodes meet often: most terms match some nodes and
// miss others.
var (
	placementKeys   = []string{"zone", "tier", "gen", "gpu", "example.com/pool"}
	placementValues = []string{"a", "b", "c", "", "0", "1", "3", "5", "10", "007", "9223372036854775807"}
	// comparisonValues are Gt and Lt values: integers at the edges of
	// what a node label can hold, non-integers, and (in preferred terms
	// only, where the API server allows them) invalid label values.
	comparisonValues     = []string{"0", "1", "3", "5", "10", "007", "9223372036854775807", "9223372036854775808", "x", "1.5"}
	comparisonValuesPref = []string{"-1", "-5", "+3", "-9223372036854775808"}
	preferredOnlyValues  = []string{"-a", "a b", "+3", "-1"}
	taintKeys            = []string{"node-role.kubernetes.io/control-plane", "dedicated", "gpu", corev1.TaintNodeNotReady}
)

// GeneratePlacements returns n placement cases from the fixed Seed. The
// terms are ones kube-apiserver accepts (the test skips any it would not).
func GeneratePlacements(n int) []Placement {
	g := newGenerator(Seed + 1)
	out := make([]Placement, 0, n)
	for i := range n {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%05d", i), Namespace: Namespace},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/app:1"}}},
		}
		if g.chance(0.4) {
			pod.Spec.NodeSelector = map[string]string{}
			for range 1 + g.r.IntN(2) {
				pod.Spec.NodeSelector[pick(g, placementKeys)] = pick(g, placementValues)
			}
		}
		if g.chance(0.9) {
			pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: g.placementAffinity()}
		}
		out = append(out, Placement{Pod: pod, Nodes: g.nodes()})
	}
	return out
}

// placementAffinity draws required and preferred node affinity.
func (g *generator) placementAffinity() *corev1.NodeAffinity {
	na := &corev1.NodeAffinity{}
	if g.chance(0.85) {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
		for range 1 + g.r.IntN(3) {
			na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = append(
				na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms, g.placementTerm(false))
		}
	}
	for range g.r.IntN(3) {
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.PreferredSchedulingTerm{Weight: 1 + int32(g.r.IntN(100)), Preference: g.placementTerm(true)})
	}
	return na
}

// placementTerm draws a well-formed term; preferred terms may carry label
// values the API server only accepts there.
func (g *generator) placementTerm(preferred bool) corev1.NodeSelectorTerm {
	term := corev1.NodeSelectorTerm{}
	if g.chance(0.03) {
		return term
	}
	for range g.r.IntN(5) {
		term.MatchExpressions = append(term.MatchExpressions, g.placementRequirement(preferred))
	}
	if len(term.MatchExpressions) == 0 || g.chance(0.15) {
		op := pick(g, []corev1.NodeSelectorOperator{corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn})
		term.MatchFields = append(term.MatchFields, corev1.NodeSelectorRequirement{
			Key: metav1.ObjectNameField, Operator: op, Values: []string{fmt.Sprintf("node-%d", g.r.IntN(5))}})
	}
	return term
}

// placementRequirement draws a well-formed matchExpressions entry.
func (g *generator) placementRequirement(preferred bool) corev1.NodeSelectorRequirement {
	rq := corev1.NodeSelectorRequirement{Key: pick(g, placementKeys), Operator: pick(g, nodeOperators[:6])}
	value := func() string {
		if preferred && g.chance(0.1) {
			return pick(g, preferredOnlyValues)
		}
		return pick(g, placementValues)
	}
	switch rq.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		for range 1 + g.r.IntN(3) {
			rq.Values = append(rq.Values, value())
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		v := pick(g, comparisonValues)
		if preferred && g.chance(0.2) {
			v = pick(g, comparisonValuesPref)
		}
		rq.Values = []string{v}
	}
	return rq
}

// nodes draws zero to five nodes with labels and taints, some cordoned.
func (g *generator) nodes() []*corev1.Node {
	var nodes []*corev1.Node
	for i := range g.r.IntN(6) {
		name := fmt.Sprintf("node-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}}}
		for _, key := range placementKeys {
			if g.chance(0.6) {
				node.Labels[key] = pick(g, placementValues)
			}
		}
		if g.chance(0.3) {
			node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: pick(g, taintKeys), Effect: pick(g, taintEffects[1:4])})
		}
		node.Spec.Unschedulable = g.chance(0.1)
		nodes = append(nodes, node)
	}
	return nodes
}

// Witness builds a node that satisfies every requirement of term (and the
// nodeSelector, as In requirements), with valid labels and a valid name,
// or returns false when it finds none. It does not use the matching code
// it checks: each key's value is chosen from the candidates the
// requirements suggest and kept if it passes them all.
func Witness(term corev1.NodeSelectorTerm, nodeSelector map[string]string) (*corev1.Node, bool) {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return nil, false // an empty term matches no node
	}
	for _, rq := range term.MatchExpressions {
		for _, v := range rq.Values {
			if len(validation.IsValidLabelValue(v)) > 0 {
				return nil, false // the scheduler cannot parse the requirement
			}
		}
	}
	byKey := map[string][]corev1.NodeSelectorRequirement{}
	var keys []string
	add := func(rq corev1.NodeSelectorRequirement) {
		if _, ok := byKey[rq.Key]; !ok {
			keys = append(keys, rq.Key)
		}
		byKey[rq.Key] = append(byKey[rq.Key], rq)
	}
	for _, rq := range term.MatchExpressions {
		add(rq)
	}
	for key, value := range nodeSelector {
		add(corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}})
	}
	name, ok := witnessName(term.MatchFields)
	if !ok {
		return nil, false
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for _, key := range keys {
		value, present, ok := witnessValue(byKey[key])
		if !ok {
			return nil, false
		}
		if present {
			node.Labels[key] = value
		}
	}
	return node, true
}

// witnessName picks a node name that passes the matchFields requirements.
func witnessName(reqs []corev1.NodeSelectorRequirement) (string, bool) {
	candidates := []string{"witness", "witness-2"}
	for _, rq := range reqs {
		if rq.Operator == corev1.NodeSelectorOpIn {
			candidates = append(candidates, rq.Values...)
		}
	}
	for _, name := range candidates {
		if len(validation.IsDNS1123Subdomain(name)) == 0 && valuePasses(name, true, reqs) {
			return name, true
		}
	}
	return "", false
}

// witnessValue picks the label value for one key: absent when the
// requirements allow it, otherwise a valid label value that passes them.
func witnessValue(reqs []corev1.NodeSelectorRequirement) (value string, present, ok bool) {
	if valuePasses("", false, reqs) {
		return "", false, true
	}
	candidates := []string{"w", "w2"}
	for _, rq := range reqs {
		switch rq.Operator {
		case corev1.NodeSelectorOpIn:
			candidates = append(candidates, rq.Values...)
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			candidates = append(candidates, integerCandidates(rq)...)
		}
	}
	for _, v := range candidates {
		if len(validation.IsValidLabelValue(v)) == 0 && valuePasses(v, true, reqs) {
			return v, true, true
		}
	}
	return "", false, false
}

// integerCandidates returns the first integers inside the bound of a Gt
// or Lt requirement (a few, so that a NotIn list cannot exclude them all),
// and zero. Node label values cannot be negative integers: "-1" does not
// start with an alphanumeric character.
func integerCandidates(rq corev1.NodeSelectorRequirement) []string {
	n, err := strconv.ParseInt(rq.Values[0], 10, 64)
	if err != nil {
		return nil
	}
	ints := []string{"0"}
	for step := range int64(4) {
		if rq.Operator == corev1.NodeSelectorOpGt && n < math.MaxInt64-step {
			ints = append(ints, strconv.FormatInt(max(n+1, 0)+step, 10))
		}
		if rq.Operator == corev1.NodeSelectorOpLt && n > math.MinInt64+step+1 {
			ints = append(ints, strconv.FormatInt(n-1-step, 10))
		}
	}
	// Leading zeros spell the same integer differently, so that NotIn
	// ["0"] does not exclude zero: "00" is another label value.
	var out []string
	for _, prefix := range []string{"", "0", "00", "000"} {
		for _, v := range ints {
			out = append(out, prefix+v)
		}
	}
	return out
}

// valuePasses evaluates the requirements on one key (or the node name) for
// a value, or for an absent key when present is false, following the
// documented semantics of the operators.
func valuePasses(v string, present bool, reqs []corev1.NodeSelectorRequirement) bool {
	for _, rq := range reqs {
		switch rq.Operator {
		case corev1.NodeSelectorOpIn:
			if !present || !slices.Contains(rq.Values, v) {
				return false
			}
		case corev1.NodeSelectorOpNotIn:
			if present && slices.Contains(rq.Values, v) {
				return false
			}
		case corev1.NodeSelectorOpExists:
			if !present {
				return false
			}
		case corev1.NodeSelectorOpDoesNotExist:
			if present {
				return false
			}
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			if !present {
				return false
			}
			have, err1 := strconv.ParseInt(v, 10, 64)
			bound, err2 := strconv.ParseInt(rq.Values[0], 10, 64)
			if err1 != nil || err2 != nil {
				return false
			}
			if (rq.Operator == corev1.NodeSelectorOpGt && have <= bound) || (rq.Operator == corev1.NodeSelectorOpLt && have >= bound) {
				return false
			}
		default:
			return false
		}
	}
	return true
}
