// Package fidelity checks that setwarden's offline verdicts are the
// cluster's verdicts. A deterministic generator builds workload variants
// around affinity and tolerations, valid and invalid; the differential tests
// run them through the real kube-apiserver (server-side dry run) and through
// the engine, and compare node-affinity semantics with the scheduler's own
// matching (k8s.io/component-helpers/scheduling/corev1/nodeaffinity).
package fidelity

import (
	"fmt"
	"math/rand/v2"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Seed is the generator's fixed seed: the same seed always yields the same
// variants, so a disagreement can be replayed by its name.
const Seed = 20260707

// Namespace is the namespace the variants are created in (dry run only).
const Namespace = "fidelity"

// Variant is one generated workload.
type Variant struct {
	// Name is the object's name, unique among the variants.
	Name string
	// Object is the typed workload: Pod, Deployment, StatefulSet, Job or CronJob.
	Object client.Object
}

// PodLabels are the pod template's labels in every variant, so that
// matchLabelKeys can name a label the pods have ("app", "tier") or lack.
var PodLabels = map[string]string{"app": "fidelity", "tier": "web"}

// dnsSubdomain returns a valid DNS subdomain of exactly n characters
// (n >= 1): labels of at most 63 characters joined by dots.
func dnsSubdomain(n int) string {
	var parts []string
	for n > 63 {
		parts = append(parts, strings.Repeat("a", 62)) // with its dot: 63
		n -= 63
	}
	return strings.Join(append(parts, strings.Repeat("b", n)), ".")
}

// Label keys at and beyond their limits: a name of at most 63 characters,
// an optional DNS-subdomain prefix of at most 253.
var (
	validLabelKeys = []string{
		"zone", "app", "tier", "gpu", "example.com/tier", "topology.kubernetes.io/zone", "kubernetes.io/hostname",
		"K", "a.b_c-d", "1k", strings.Repeat("k", 63), dnsSubdomain(253) + "/k", "example.com/" + strings.Repeat("n", 63),
	}
	invalidLabelKeys = []string{
		"", strings.Repeat("k", 64), dnsSubdomain(254) + "/k", "example.com/" + strings.Repeat("n", 64),
		"-k", "k-", "_k", "k k", "a/b/c", "Example.com/k", "example.com/", "/k", "k!", "exa_mple.com/k",
	}
	validLabelValues = []string{
		"", "a", "v1", "web", "fidelity", strings.Repeat("v", 63), "a_b.c-d", "A", "0", "1", "3", "10", "007",
		"9223372036854775807", "9223372036854775808",
	}
	invalidLabelValues = []string{
		strings.Repeat("v", 64), "-a", "a-", "_a", "a b", "a/b", "-1", "+1", "1.5", "v!", " 1",
	}
	// integerish values for Gt and Lt: integers, non-integers, and integers
	// that are invalid label values.
	integerValues = []string{"0", "1", "3", "10", "007", "9223372036854775807", "9223372036854775808", "-1", "+5", "1.5", "x", "", "0x10"}
)

// nodeOperators are every node-selector operator, plus unknown ones.
var nodeOperators = []corev1.NodeSelectorOperator{
	corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpExists,
	corev1.NodeSelectorOpDoesNotExist, corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt, "", "in", "Bogus",
}

// Node names for matchFields: valid and invalid DNS subdomains.
var (
	validNodeNames   = []string{"node-1", "node-a.example.com", "n", dnsSubdomain(253)}
	invalidNodeNames = []string{"", "Node_1", "-node", "node-", dnsSubdomain(254), "node 1"}
	fieldKeys        = []string{"metadata.namespace", "spec.nodeName", "", "metadata.labels"}
)

// Weights of preferred terms, inside and outside 1..100.
var weights = []int32{0, 1, 2, 50, 99, 100, 101, -1, -100, 1 << 30}

var (
	topologyKeysValid = []string{"kubernetes.io/hostname", "topology.kubernetes.io/zone", "zone", strings.Repeat("t", 63), dnsSubdomain(253) + "/t"}
	namespacesValid   = []string{"default", "kube-system", strings.Repeat("n", 63)}
	namespacesInvalid = []string{"", "Bad_NS", "bad.ns", strings.Repeat("n", 64), "-ns"}
	labelSelectorOps  = []metav1.LabelSelectorOperator{
		metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist, "", "Bogus",
	}
	matchLabelKeyChoices = []string{"app", "tier", "pod-template-hash", "absent", "bad key", strings.Repeat("k", 64), ""}
)

// Toleration parts: every operator and effect, known and unknown.
var (
	tolerationOperators = []corev1.TolerationOperator{"", corev1.TolerationOpEqual, corev1.TolerationOpExists, "Lt", "Gt", "Bogus", "equal"}
	taintEffects        = []corev1.TaintEffect{"", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute, "NoScheduleNoAdmit", "Bogus"}
	tolerationSeconds   = []*int64{nil, ptr(int64(0)), ptr(int64(300)), ptr(int64(-1))}
)

func ptr[T any](v T) *T { return &v }

// generator draws the parts of variants from one seeded source.
type generator struct {
	r *rand.Rand
	// pInvalid is the chance that a drawn part is invalid.
	pInvalid float64
}

func newGenerator(seed uint64) *generator {
	return &generator{r: rand.New(rand.NewPCG(seed, seed^0x5e7a4de4)), pInvalid: 0.05}
}

func pick[T any](g *generator, xs []T) T { return xs[g.r.IntN(len(xs))] }

func (g *generator) chance(p float64) bool { return g.r.Float64() < p }

// labelKey draws a label key, invalid with probability pInvalid.
func (g *generator) labelKey() string {
	if g.chance(g.pInvalid) {
		return pick(g, invalidLabelKeys)
	}
	return pick(g, validLabelKeys)
}

// labelValue draws a label value, invalid with probability pInvalid.
func (g *generator) labelValue() string {
	if g.chance(g.pInvalid) {
		return pick(g, invalidLabelValues)
	}
	return pick(g, validLabelValues)
}

// valueCount draws 0, 1 or several values, biased towards the count the
// operator needs so that most requirements are valid.
func (g *generator) valueCount(wanted int) int {
	if g.chance(0.75) {
		if wanted < 0 { // one or more
			return 1 + g.r.IntN(3)
		}
		return wanted
	}
	return pick(g, []int{0, 1, 2, 3})
}

// nodeRequirement draws a matchExpressions entry.
func (g *generator) nodeRequirement() corev1.NodeSelectorRequirement {
	op := pick(g, nodeOperators[:6])
	if g.chance(g.pInvalid / 3) {
		op = pick(g, nodeOperators[6:])
	}
	rq := corev1.NodeSelectorRequirement{Key: g.labelKey(), Operator: op}
	switch op {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		for range g.valueCount(-1) {
			rq.Values = append(rq.Values, g.labelValue())
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		for range g.valueCount(1) {
			rq.Values = append(rq.Values, pick(g, integerValues))
		}
	default:
		for range g.valueCount(0) {
			rq.Values = append(rq.Values, g.labelValue())
		}
	}
	return rq
}

// fieldRequirement draws a matchFields entry.
func (g *generator) fieldRequirement() corev1.NodeSelectorRequirement {
	rq := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: pick(g, nodeOperators[:2])}
	if g.chance(g.pInvalid) {
		rq.Key = pick(g, fieldKeys)
	}
	if g.chance(g.pInvalid) {
		rq.Operator = pick(g, nodeOperators[2:])
	}
	for range g.valueCount(1) {
		if g.chance(g.pInvalid) {
			rq.Values = append(rq.Values, pick(g, invalidNodeNames))
		} else {
			rq.Values = append(rq.Values, pick(g, validNodeNames))
		}
	}
	return rq
}

// nodeSelectorTerm draws a term: usually one to three matchExpressions,
// sometimes matchFields, sometimes nothing at all.
func (g *generator) nodeSelectorTerm() corev1.NodeSelectorTerm {
	term := corev1.NodeSelectorTerm{}
	if g.chance(0.05) {
		return term
	}
	for range g.r.IntN(4) {
		term.MatchExpressions = append(term.MatchExpressions, g.nodeRequirement())
	}
	if len(term.MatchExpressions) == 0 || g.chance(0.2) {
		for range 1 + g.r.IntN(2) {
			term.MatchFields = append(term.MatchFields, g.fieldRequirement())
		}
	}
	return term
}

// nodeAffinity draws required (missing, without terms, or with terms) and
// preferred node affinity.
func (g *generator) nodeAffinity() *corev1.NodeAffinity {
	na := &corev1.NodeAffinity{}
	switch {
	case g.chance(0.25):
	case g.chance(g.pInvalid / 2):
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
	default:
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
		for range 1 + g.r.IntN(3) {
			na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = append(
				na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms, g.nodeSelectorTerm())
		}
	}
	for range g.r.IntN(3) {
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.PreferredSchedulingTerm{Weight: g.weight(), Preference: g.nodeSelectorTerm()})
	}
	return na
}

func (g *generator) weight() int32 {
	if g.chance(g.pInvalid) {
		return pick(g, weights)
	}
	return pick(g, []int32{1, 50, 100})
}

// labelSelector draws a pod affinity labelSelector: missing, empty,
// matchLabels, matchExpressions.
func (g *generator) labelSelector() *metav1.LabelSelector {
	switch {
	case g.chance(0.15):
		return nil
	case g.chance(0.1):
		return &metav1.LabelSelector{}
	}
	ls := &metav1.LabelSelector{}
	if g.chance(0.6) {
		ls.MatchLabels = map[string]string{}
		for range 1 + g.r.IntN(2) {
			key := pick(g, []string{"app", "tier", "app", g.labelKey()})
			ls.MatchLabels[key] = g.labelValue()
		}
	}
	if len(ls.MatchLabels) == 0 || g.chance(0.4) {
		for range 1 + g.r.IntN(2) {
			ls.MatchExpressions = append(ls.MatchExpressions, g.selectorRequirement())
		}
	}
	return ls
}

// selectorRequirement draws a LabelSelectorRequirement.
func (g *generator) selectorRequirement() metav1.LabelSelectorRequirement {
	op := pick(g, labelSelectorOps[:4])
	if g.chance(g.pInvalid / 3) {
		op = pick(g, labelSelectorOps[4:])
	}
	req := metav1.LabelSelectorRequirement{Key: pick(g, []string{"app", "tier", g.labelKey()}), Operator: op}
	wanted := 0
	if op == metav1.LabelSelectorOpIn || op == metav1.LabelSelectorOpNotIn {
		wanted = -1
	}
	for range g.valueCount(wanted) {
		req.Values = append(req.Values, g.labelValue())
	}
	return req
}

// labelKeys draws matchLabelKeys or mismatchLabelKeys: usually none.
func (g *generator) labelKeys() []string {
	if g.chance(0.7) {
		return nil
	}
	var keys []string
	for range 1 + g.r.IntN(2) {
		if g.chance(g.pInvalid) {
			keys = append(keys, pick(g, matchLabelKeyChoices[4:]))
		} else {
			keys = append(keys, pick(g, matchLabelKeyChoices[:4]))
		}
	}
	return keys
}

// podAffinityTerm draws a pod (anti-)affinity term.
func (g *generator) podAffinityTerm() corev1.PodAffinityTerm {
	term := corev1.PodAffinityTerm{LabelSelector: g.labelSelector(), TopologyKey: pick(g, topologyKeysValid)}
	if g.chance(g.pInvalid) {
		term.TopologyKey = pick(g, invalidLabelKeys)
	}
	if g.chance(0.15) {
		term.NamespaceSelector = g.labelSelector()
	}
	if g.chance(0.2) {
		term.Namespaces = []string{pick(g, namespacesValid)}
		if g.chance(g.pInvalid * 2) {
			term.Namespaces = append(term.Namespaces, pick(g, namespacesInvalid))
		}
	}
	term.MatchLabelKeys, term.MismatchLabelKeys = g.labelKeys(), g.labelKeys()
	return term
}

// podAffinityTerms draws required and preferred terms.
func (g *generator) podAffinityTerms() ([]corev1.PodAffinityTerm, []corev1.WeightedPodAffinityTerm) {
	var required []corev1.PodAffinityTerm
	var preferred []corev1.WeightedPodAffinityTerm
	for range g.r.IntN(2) {
		required = append(required, g.podAffinityTerm())
	}
	for range g.r.IntN(2) {
		preferred = append(preferred, corev1.WeightedPodAffinityTerm{Weight: g.weight(), PodAffinityTerm: g.podAffinityTerm()})
	}
	return required, preferred
}

// toleration draws a toleration from every operator, effect and
// tolerationSeconds, with keys and values at and beyond their limits.
func (g *generator) toleration() corev1.Toleration {
	t := corev1.Toleration{Key: g.labelKey()}
	if g.chance(0.15) {
		t.Key = ""
	}
	t.Operator = pick(g, tolerationOperators[:3])
	if g.chance(g.pInvalid) {
		t.Operator = pick(g, tolerationOperators[3:])
	}
	if t.Operator != corev1.TolerationOpExists || g.chance(g.pInvalid) {
		t.Value = g.labelValue()
	}
	t.Effect = pick(g, taintEffects[:4])
	if g.chance(g.pInvalid / 2) {
		t.Effect = pick(g, taintEffects[4:])
	}
	if g.chance(0.25) {
		t.TolerationSeconds = pick(g, tolerationSeconds[1:])
	}
	return t
}

// affinity draws the pod template's affinity, each part optional.
func (g *generator) affinity() *corev1.Affinity {
	if g.chance(0.1) {
		return nil
	}
	a := &corev1.Affinity{}
	if g.chance(0.6) {
		a.NodeAffinity = g.nodeAffinity()
	}
	if g.chance(0.35) {
		req, pref := g.podAffinityTerms()
		a.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: req, PreferredDuringSchedulingIgnoredDuringExecution: pref}
	}
	if g.chance(0.35) {
		req, pref := g.podAffinityTerms()
		a.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: req, PreferredDuringSchedulingIgnoredDuringExecution: pref}
	}
	return a
}

// podSpec draws a pod spec that is valid but for its affinity and tolerations.
func (g *generator) podSpec() corev1.PodSpec {
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "registry.example/app:1"}},
		Affinity:   g.affinity(),
	}
	for range g.r.IntN(4) {
		spec.Tolerations = append(spec.Tolerations, g.toleration())
	}
	return spec
}

// Generate returns n variants: first the systematic corner cases (see
// cornerSpecs), then variants drawn from the fixed Seed. The kinds rotate
// (Pod, Deployment, StatefulSet, Job, CronJob) and every part of the pod
// template's affinity and tolerations is drawn independently.
func Generate(n int) []Variant {
	g := newGenerator(Seed)
	specs := cornerSpecs()
	variants := make([]Variant, 0, n)
	for i := range n {
		name := fmt.Sprintf("v%05d", i)
		var spec corev1.PodSpec
		if i < len(specs) {
			spec = specs[i]
		} else {
			spec = g.podSpec()
		}
		variants = append(variants, Variant{Name: name, Object: workload(i%5, name, spec)})
	}
	return variants
}

// Sample returns every stride-th variant, a quick run across both the
// corner cases and the drawn variants.
func Sample(variants []Variant, stride int) []Variant {
	var out []Variant
	for i := 0; i < len(variants); i += stride {
		out = append(out, variants[i])
	}
	return out
}

// workload wraps spec in the kind numbered kind, otherwise valid.
func workload(kind int, name string, spec corev1.PodSpec) client.Object {
	meta := metav1.ObjectMeta{Name: name, Namespace: Namespace}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: PodLabels}, Spec: spec}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": PodLabels["app"]}}
	switch kind {
	case 0:
		meta.Labels = PodLabels
		return &corev1.Pod{ObjectMeta: meta, Spec: spec}
	case 1:
		return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: selector, Template: template}}
	case 2:
		return &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{ServiceName: name, Selector: selector, Template: template}}
	case 3:
		template.Spec.RestartPolicy = corev1.RestartPolicyNever
		return &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: template}}
	default:
		template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		return &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{
			Schedule:    "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template}},
		}}
	}
}
