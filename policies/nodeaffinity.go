package policies

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// A nodeSelectorTerm ANDs its requirements, and requirements on different
// keys never constrain each other, so a term is unsatisfiable exactly when
// the values its requirements leave for some single key form an empty set.
// The rules below compute that set per key (valueDomain) and report a term
// at the requirement that empties it, or at the term itself when it is
// empty ({} matches no node, as in the scheduler's nodeaffinity package).
//
// Requirements kube-apiserver rejects (In without values, an unknown
// operator, ...) are affinity-invalid's findings: they are skipped here, so
// they can only hide a contradiction, never report one. The exceptions are
// what the API server accepts and the scheduler cannot parse, so that it
// never matches the term: a Gt or Lt value that is not an integer, and (in
// preferred terms, where the API server allows them) values that are not
// valid label values. A node's label values are valid label values, so
// they are never negative integers: Lt 0 leaves no value.

// valueDomain is what the requirements of one term allow for one key.
type valueDomain struct {
	mustExist, mustNotExist bool
	// in is the intersection of the In lists; nil means any value.
	in    sets.Set[string]
	notIn sets.Set[string]
	// gt and lt are strict integer bounds, set when hasGt and hasLt.
	gt, lt       int64
	hasGt, hasLt bool
	// badInt is a Gt or Lt value that does not parse as an integer, badIntOp its operator.
	badInt, badIntOp string
	// label is set for a node label (matchExpressions), whose values must
	// be valid label values, unset for a node field (matchFields).
	label bool
	// badValue is a value that is not a valid label value.
	badValue string
}

// add folds a well-formed requirement into the domain.
func (d *valueDomain) add(rq *corev1.NodeSelectorRequirement) {
	if d.label && d.badValue == "" {
		// The scheduler parses the requirement with labels.NewRequirement,
		// which rejects the whole term for one invalid value.
		if i := slices.IndexFunc(rq.Values, func(v string) bool { return len(content.IsLabelValue(v)) > 0 }); i >= 0 {
			d.badValue = rq.Values[i]
		}
	}
	switch rq.Operator {
	case corev1.NodeSelectorOpIn:
		d.mustExist = true
		if d.in == nil {
			d.in = sets.New(rq.Values...)
		} else {
			d.in = d.in.Intersection(sets.New(rq.Values...))
		}
	case corev1.NodeSelectorOpNotIn:
		if d.notIn == nil {
			d.notIn = sets.New[string]()
		}
		d.notIn.Insert(rq.Values...)
	case corev1.NodeSelectorOpExists:
		d.mustExist = true
	case corev1.NodeSelectorOpDoesNotExist:
		d.mustNotExist = true
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		d.mustExist = true
		// The scheduler parses both sides with the same ParseInt call.
		n, err := strconv.ParseInt(rq.Values[0], 10, 64)
		switch {
		case err != nil:
			d.badInt, d.badIntOp = rq.Values[0], string(rq.Operator)
		case rq.Operator == corev1.NodeSelectorOpGt && (!d.hasGt || n > d.gt):
			d.gt, d.hasGt = n, true
		case rq.Operator == corev1.NodeSelectorOpLt && (!d.hasLt || n < d.lt):
			d.lt, d.hasLt = n, true
		}
	}
}

// intRange returns the inclusive integer range the Gt and Lt bounds leave;
// label values start with an alphanumeric character, so a label's integers
// are never negative.
func (d *valueDomain) intRange() (lo, hi int64, empty bool) {
	lo, hi = math.MinInt64, math.MaxInt64
	if d.label {
		lo = 0
	}
	if d.hasGt {
		if d.gt == math.MaxInt64 {
			return lo, hi, true
		}
		lo = max(lo, d.gt+1)
	}
	if d.hasLt {
		if d.lt == math.MinInt64 {
			return lo, hi, true
		}
		hi = d.lt - 1
	}
	return lo, hi, lo > hi
}

// bounds describes the Gt and Lt bounds, such as "greater than 3 and less than 5".
func (d *valueDomain) bounds() string {
	var parts []string
	if d.hasGt {
		parts = append(parts, fmt.Sprintf("greater than %d", d.gt))
	}
	if d.hasLt {
		parts = append(parts, fmt.Sprintf("less than %d", d.lt))
	}
	return strings.Join(parts, " and ")
}

// emptyReason returns why no value of the key (a "label" or "field", per
// noun) satisfies the domain, as a field error detail; "" when some value
// does. The detail does not name the key: the error's value, the reported
// requirement, does.
func (d *valueDomain) emptyReason(noun string) string {
	const noNode = "so no node matches this term"
	if d.badValue != "" {
		return fmt.Sprintf("%q is not a valid label value, so the scheduler cannot parse this requirement and no node matches this term: fix the value", d.badValue)
	}
	if d.badInt != "" {
		return fmt.Sprintf("%s compares %s values as integers and %q is not one, %s: use a base-10 integer", d.badIntOp, noun, d.badInt, noNode)
	}
	if d.mustExist && d.mustNotExist {
		return fmt.Sprintf("this %s must both exist and not exist, %s: remove one of the requirements", noun, noNode)
	}
	lo, hi, empty := d.intRange()
	if empty && d.label && d.hasLt && d.lt <= 0 {
		return fmt.Sprintf("label values cannot be negative integers, so none is less than %d, %s: use a positive bound", d.lt, noNode)
	}
	if empty {
		return fmt.Sprintf("no integer is %s, %s: widen the Gt/Lt range", d.bounds(), noNode)
	}
	if d.in == nil {
		return ""
	}
	if d.in.Len() == 0 {
		return fmt.Sprintf("the In lists on this %s have no value in common, %s: keep a single In list", noun, noNode)
	}
	allowed := d.in.Difference(d.notIn)
	if allowed.Len() == 0 {
		return fmt.Sprintf("NotIn excludes every value that In allows for this %s, %s: remove the contradicting values", noun, noNode)
	}
	if !d.hasGt && !d.hasLt {
		return ""
	}
	for v := range allowed {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && lo <= n && n <= hi {
			return ""
		}
	}
	return fmt.Sprintf("no In value of this %s is an integer %s, %s: fix the values or the range", noun, d.bounds(), noNode)
}

// labelRequirementWellFormed mirrors kube-apiserver's operator and value
// count checks on matchExpressions.
func labelRequirementWellFormed(rq *corev1.NodeSelectorRequirement) bool {
	switch rq.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		return len(rq.Values) > 0
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		return len(rq.Values) == 0
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		return len(rq.Values) == 1
	}
	return false
}

// requiredLabelRequirementWellFormed also mirrors the API server's check
// of the values of required terms, which must be valid label values;
// preferred terms accept any value (and then never match).
func requiredLabelRequirementWellFormed(rq *corev1.NodeSelectorRequirement) bool {
	return labelRequirementWellFormed(rq) &&
		!slices.ContainsFunc(rq.Values, func(v string) bool { return len(content.IsLabelValue(v)) > 0 })
}

// fieldRequirementWellFormed mirrors kube-apiserver's checks on matchFields:
// only metadata.name, only In and NotIn, exactly one value.
func fieldRequirementWellFormed(rq *corev1.NodeSelectorRequirement) bool {
	return rq.Key == metav1.ObjectNameField && len(rq.Values) == 1 &&
		(rq.Operator == corev1.NodeSelectorOpIn || rq.Operator == corev1.NodeSelectorOpNotIn)
}

// firstContradiction folds requirements, in order, into one domain per key
// and returns the index of the first requirement that leaves its key no
// possible value, with the reason; -1 when every key keeps one.
func firstContradiction(reqs []corev1.NodeSelectorRequirement, noun string, wellFormed func(*corev1.NodeSelectorRequirement) bool) (int, string) {
	domains := map[string]*valueDomain{}
	for i := range reqs {
		rq := &reqs[i]
		if !wellFormed(rq) {
			continue
		}
		d := domains[rq.Key]
		if d == nil {
			d = &valueDomain{label: noun == "label"}
			domains[rq.Key] = d
		}
		d.add(rq)
		if reason := d.emptyReason(noun); reason != "" {
			return i, reason
		}
	}
	return -1, ""
}

// formatRequirement renders a requirement compactly, such as "zone NotIn [a b]".
func formatRequirement(rq *corev1.NodeSelectorRequirement) string {
	if len(rq.Values) == 0 {
		return rq.Key + " " + string(rq.Operator)
	}
	return fmt.Sprintf("%s %s [%s]", rq.Key, rq.Operator, strings.Join(rq.Values, " "))
}

// checkNodeSelectorTermUnsatisfiable returns the error for a term no node
// can match, or nil. It reports at matchExpressions[j] (or matchFields[j])
// for the requirement that completes the contradiction, and at the term for
// an empty term. required selects the API server's checks of a required
// term, which rejects invalid label values a preferred term may hold.
func checkNodeSelectorTermUnsatisfiable(term *corev1.NodeSelectorTerm, fldPath *field.Path, required bool) *field.Error {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return field.Required(fldPath, "an empty nodeSelectorTerm matches no node: add matchExpressions or matchFields, or remove the term")
	}
	wellFormed := labelRequirementWellFormed
	if required {
		wellFormed = requiredLabelRequirementWellFormed
	}
	if j, reason := firstContradiction(term.MatchExpressions, "label", wellFormed); j >= 0 {
		return field.Invalid(fldPath.Child("matchExpressions").Index(j), formatRequirement(&term.MatchExpressions[j]), reason)
	}
	if j, reason := firstContradiction(term.MatchFields, "field", fieldRequirementWellFormed); j >= 0 {
		return field.Invalid(fldPath.Child("matchFields").Index(j), formatRequirement(&term.MatchFields[j]), reason)
	}
	return nil
}

// nodeAffinityOf returns the pod spec's node affinity, or nil.
func nodeAffinityOf(spec *corev1.PodSpec) *corev1.NodeAffinity {
	if spec.Affinity == nil {
		return nil
	}
	return spec.Affinity.NodeAffinity
}

// requiredNodeSelector returns the required node affinity, or nil.
func requiredNodeSelector(spec *corev1.PodSpec) *corev1.NodeSelector {
	if na := nodeAffinityOf(spec); na != nil {
		return na.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return nil
}

// requiredTermsPath is the path of the required nodeSelectorTerms.
func requiredTermsPath(in *Input) *field.Path {
	return in.PodSpecPath.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
}

// unsatisfiableRequiredTerms returns one error per required term no node can
// match, and how many required terms there are.
func unsatisfiableRequiredTerms(in *Input) (field.ErrorList, int) {
	allErrs := field.ErrorList{}
	required := requiredNodeSelector(in.PodSpec)
	if required == nil {
		return allErrs, 0
	}
	fldPath := requiredTermsPath(in)
	for i := range required.NodeSelectorTerms {
		if err := checkNodeSelectorTermUnsatisfiable(&required.NodeSelectorTerms[i], fldPath.Index(i), true); err != nil {
			allErrs = append(allErrs, err)
		}
	}
	return allErrs, len(required.NodeSelectorTerms)
}

// checkNodeAffinityUnsatisfiable reports required node affinity whose every
// nodeSelectorTerm is contradictory: the terms are ORed, so the pods can
// never be scheduled. It returns one error per term.
func checkNodeAffinityUnsatisfiable(in *Input) field.ErrorList {
	allErrs, total := unsatisfiableRequiredTerms(in)
	if total == 0 || len(allErrs) < total {
		return field.ErrorList{}
	}
	return allErrs
}

// adviseNodeAffinityTermsUnsatisfiable reports contradictory terms that do
// not block scheduling: some (not all) required terms, which are dead
// alternatives, and preferred terms, which never add to a node's score.
func adviseNodeAffinityTermsUnsatisfiable(in *Input) field.ErrorList {
	allErrs, total := unsatisfiableRequiredTerms(in)
	if len(allErrs) == total {
		allErrs = field.ErrorList{} // all or none: checkNodeAffinityUnsatisfiable's case
	}
	na := nodeAffinityOf(in.PodSpec)
	if na == nil {
		return allErrs
	}
	fldPath := in.PodSpecPath.Child("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
	for i := range na.PreferredDuringSchedulingIgnoredDuringExecution {
		term := &na.PreferredDuringSchedulingIgnoredDuringExecution[i].Preference
		if err := checkNodeSelectorTermUnsatisfiable(term, fldPath.Index(i).Child("preference"), false); err != nil {
			allErrs = append(allErrs, err)
		}
	}
	return allErrs
}

// nodeSelectorConflict returns the first nodeSelector key (in sorted order)
// whose value the term forbids, or "" when the term and the nodeSelector
// can hold together. The term must be satisfiable on its own.
func nodeSelectorConflict(term *corev1.NodeSelectorTerm, nodeSelector map[string]string) string {
	reqs := slices.Clone(term.MatchExpressions)
	for _, key := range sets.List(sets.KeySet(nodeSelector)) {
		reqs = append(reqs, corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{nodeSelector[key]}})
	}
	if j, _ := firstContradiction(reqs, "label", requiredLabelRequirementWellFormed); j >= 0 {
		return reqs[j].Key
	}
	return ""
}

// checkNodeAffinityConflictsNodeSelector reports spec.nodeSelector when it
// contradicts every required nodeSelectorTerm that is satisfiable on its
// own, so no node can satisfy both. It reports once per nodeSelector key,
// naming the terms that key contradicts.
func checkNodeAffinityConflictsNodeSelector(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	nodeSelector := in.PodSpec.NodeSelector
	required := requiredNodeSelector(in.PodSpec)
	if len(nodeSelector) == 0 || required == nil {
		return allErrs
	}
	termsPath := requiredTermsPath(in)
	conflicts := map[string][]string{}
	for i := range required.NodeSelectorTerms {
		term := &required.NodeSelectorTerms[i]
		if checkNodeSelectorTermUnsatisfiable(term, termsPath.Index(i), true) != nil {
			continue // node-affinity-unsatisfiable's finding
		}
		key := nodeSelectorConflict(term, nodeSelector)
		if key == "" {
			return allErrs // this term and the nodeSelector agree
		}
		conflicts[key] = append(conflicts[key], fmt.Sprintf("nodeSelectorTerms[%d]", i))
	}
	fldPath := in.PodSpecPath.Child("nodeSelector")
	for _, key := range sets.List(sets.KeySet(conflicts)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Key(key), nodeSelector[key],
			fmt.Sprintf("contradicts required node affinity %s, and no satisfiable term agrees with the nodeSelector, so no node can match: make them agree",
				strings.Join(conflicts[key], ", "))))
	}
	return allErrs
}

// anyNodeMatches reports whether any node satisfies the nodeSelector and
// the required node affinity, with the scheduler's own matching.
func anyNodeMatches(nodes []*corev1.Node, nodeSelector map[string]string, affinity *corev1.Affinity) bool {
	required := nodeaffinity.NewRequiredNodeAffinity(nodeSelector, affinity)
	return slices.ContainsFunc(nodes, func(node *corev1.Node) bool {
		ok, _ := required.Match(node) // parse errors: affinity-invalid's case
		return ok
	})
}

// noMatchingNodesDetail words the no-matching-nodes finding.
func noMatchingNodesDetail(nodes int, what string) string {
	if nodes == 0 {
		return what + " cannot match any node because the cluster has none, so the pods stay Pending until a matching node joins"
	}
	return fmt.Sprintf("%s matches none of the cluster's %d nodes, so the pods stay Pending: check the labels with kubectl get nodes --show-labels", what, nodes)
}

// checkNodeAffinityNoMatchingNodes reports placement that none of the
// cluster's current nodes accepts. By labels: it reports at the nodeSelector
// when the nodeSelector alone matches no node, at the required node affinity
// when that alone matches none, and at the nodeSelector otherwise.
// Contradictions already reported by node-affinity-unsatisfiable or
// node-affinity-conflicts-node-selector are not repeated. When some nodes
// match by labels (or the pods have no placement at all) but every one of
// them is cordoned or has a NoSchedule or NoExecute taint the pods do not
// tolerate, as the scheduler's NodeUnschedulable and TaintToleration filters
// read them (untoleratedTaint), it reports at the tolerations. A pod bound with spec.nodeName
// skips the scheduler and is judged by its labels only.
func checkNodeAffinityNoMatchingNodes(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	spec := in.PodSpec
	required := requiredNodeSelector(spec)
	if len(spec.NodeSelector) > 0 || required != nil {
		if required != nil && len(validateNodeSelector(required, false, nil)) > 0 {
			return allErrs // rejected by kube-apiserver: affinity-invalid's finding
		}
		if len(checkNodeAffinityUnsatisfiable(in)) > 0 || len(checkNodeAffinityConflictsNodeSelector(in)) > 0 {
			return allErrs
		}
		if !anyNodeMatches(in.Nodes, spec.NodeSelector, spec.Affinity) {
			return append(allErrs, noNodeMatchesLabels(in, required))
		}
	}
	if spec.NodeName != "" || len(in.Nodes) == 0 {
		return allErrs
	}
	if err := checkNoTolerableNode(in); err != nil {
		allErrs = append(allErrs, err)
	}
	return allErrs
}

// noNodeMatchesLabels is the error for placement whose labels match no node.
func noNodeMatchesLabels(in *Input, required *corev1.NodeSelector) *field.Error {
	spec := in.PodSpec
	selectorPath := in.PodSpecPath.Child("nodeSelector")
	switch {
	case len(spec.NodeSelector) > 0 && !anyNodeMatches(in.Nodes, spec.NodeSelector, nil):
		return field.Invalid(selectorPath, spec.NodeSelector, noMatchingNodesDetail(len(in.Nodes), "the nodeSelector"))
	case required != nil && !anyNodeMatches(in.Nodes, nil, spec.Affinity):
		return field.Invalid(in.PodSpecPath.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"),
			field.OmitValueType{}, noMatchingNodesDetail(len(in.Nodes), "the required node affinity"))
	default:
		return field.Invalid(selectorPath, spec.NodeSelector, noMatchingNodesDetail(len(in.Nodes), "the nodeSelector together with the required node affinity"))
	}
}

// maxNamedNodes bounds how many nodes a finding names.
const maxNamedNodes = 3

// checkNoTolerableNode returns the error for pods that no node whose labels
// match will take, because each is cordoned or has a taint the pods do not
// tolerate; nil when some node takes them. The tolerations are the ones the
// pods will have (schedulingTolerations).
func checkNoTolerableNode(in *Input) *field.Error {
	tolerations := schedulingTolerations(in)
	placement := nodeaffinity.NewRequiredNodeAffinity(in.PodSpec.NodeSelector, in.PodSpec.Affinity)
	var blocked []string
	matched := 0
	for _, node := range in.Nodes {
		if ok, _ := placement.Match(node); !ok {
			continue
		}
		matched++
		taint, untolerated := untoleratedTaint(tolerations, node)
		if !untolerated {
			return nil
		}
		if len(blocked) < maxNamedNodes {
			blocked = append(blocked, describeBlockedNode(node, &taint))
		}
	}
	if matched == 0 {
		return nil
	}
	if more := matched - len(blocked); more > 0 {
		blocked = append(blocked, fmt.Sprintf("%d more", more))
	}
	what := "no node of the cluster"
	switch required := requiredNodeSelector(in.PodSpec) != nil; {
	case len(in.PodSpec.NodeSelector) > 0 && required:
		what = "no node the nodeSelector and required node affinity match"
	case len(in.PodSpec.NodeSelector) > 0:
		what = "no node the nodeSelector matches"
	case required:
		what = "no node the required node affinity matches"
	}
	return field.Invalid(in.PodSpecPath.Child("tolerations"), field.OmitValueType{}, fmt.Sprintf(
		"%s takes the pods (%s), so they stay Pending: add a toleration for the taint, uncordon a node, or place the pods on other nodes",
		what, strings.Join(blocked, "; ")))
}

// describeBlockedNode says why node takes no pods: taint is the first taint
// the pods do not tolerate.
func describeBlockedNode(node *corev1.Node, taint *corev1.Taint) string {
	if node.Spec.Unschedulable && taint.Key == corev1.TaintNodeUnschedulable && !slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == taint.Key }) {
		return node.Name + " is cordoned"
	}
	return fmt.Sprintf("%s has the taint %s", node.Name, taint.ToString())
}

// schedulingTolerations returns the tolerations the pods of the workload will
// be scheduled with: a DaemonSet's pods also get the toleration of cordoned
// nodes the DaemonSet controller adds to every daemon pod (with tolerations
// of the condition taints, which are not counted anyway), and an agent
// DaemonSet the control-plane tolerations setwarden's mutation adds (the
// webhook validates the mutated object; check predicts it).
func schedulingTolerations(in *Input) []corev1.Toleration {
	if in.DaemonSet == nil {
		return in.PodSpec.Tolerations
	}
	tolerations := append(slices.Clone(in.PodSpec.Tolerations),
		corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	if in.AgentMutated {
		for _, t := range in.Config.ControlPlaneTaints {
			tolerations = append(tolerations, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOpExists, Effect: t.Effect})
		}
	}
	return tolerations
}

// deprecatedNodeLabels maps deprecated well-known node labels to their
// stable replacements, which current kubelets and cloud providers set.
var deprecatedNodeLabels = map[string]string{
	"failure-domain.beta.kubernetes.io/zone":   corev1.LabelTopologyZone,
	"failure-domain.beta.kubernetes.io/region": corev1.LabelTopologyRegion,
	"beta.kubernetes.io/os":                    corev1.LabelOSStable,
	"beta.kubernetes.io/arch":                  corev1.LabelArchStable,
	"beta.kubernetes.io/instance-type":         corev1.LabelInstanceTypeStable,
	"node-role.kubernetes.io/master":           "node-role.kubernetes.io/control-plane",
}

// checkDeprecatedLabel returns an error when key is a deprecated node label.
func checkDeprecatedLabel(key string, fldPath *field.Path) field.ErrorList {
	stable, ok := deprecatedNodeLabels[key]
	if !ok {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, key,
		fmt.Sprintf("deprecated node label, which newer nodes may lack: use %s instead", stable))}
}

// checkDeprecatedTermKeys checks the matchExpressions keys of ORed or
// alternative terms. A deprecated key is not reported when another term of
// the same list uses its stable replacement: charts pair the two on purpose
// so that old and new clusters both match, and the stable term covers the
// nodes that lack the old label.
func checkDeprecatedTermKeys(terms []*corev1.NodeSelectorTerm, termPaths []*field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	for i, term := range terms {
		for j, rq := range term.MatchExpressions {
			stable, ok := deprecatedNodeLabels[rq.Key]
			if !ok || termsUseKey(terms, i, stable) {
				continue
			}
			allErrs = append(allErrs, checkDeprecatedLabel(rq.Key, termPaths[i].Child("matchExpressions").Index(j).Child("key"))...)
		}
	}
	return allErrs
}

// termsUseKey reports whether a term other than terms[skip] has a
// matchExpression on key.
func termsUseKey(terms []*corev1.NodeSelectorTerm, skip int, key string) bool {
	for i, term := range terms {
		if i != skip && slices.ContainsFunc(term.MatchExpressions, func(rq corev1.NodeSelectorRequirement) bool { return rq.Key == key }) {
			return true
		}
	}
	return false
}

// checkDeprecatedNodeAffinityLabels checks required and preferred node affinity keys.
func checkDeprecatedNodeAffinityLabels(na *corev1.NodeAffinity, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if na == nil {
		return allErrs
	}
	if required := na.RequiredDuringSchedulingIgnoredDuringExecution; required != nil {
		termsPath := fldPath.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		var terms []*corev1.NodeSelectorTerm
		var paths []*field.Path
		for i := range required.NodeSelectorTerms {
			terms, paths = append(terms, &required.NodeSelectorTerms[i]), append(paths, termsPath.Index(i))
		}
		allErrs = append(allErrs, checkDeprecatedTermKeys(terms, paths)...)
	}
	preferredPath := fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution")
	var terms []*corev1.NodeSelectorTerm
	var paths []*field.Path
	for i := range na.PreferredDuringSchedulingIgnoredDuringExecution {
		terms = append(terms, &na.PreferredDuringSchedulingIgnoredDuringExecution[i].Preference)
		paths = append(paths, preferredPath.Index(i).Child("preference"))
	}
	return append(allErrs, checkDeprecatedTermKeys(terms, paths)...)
}

// checkDeprecatedPodAffinityTopologyKeys checks the topologyKeys of pod
// affinity or anti-affinity terms, required and preferred.
func checkDeprecatedPodAffinityTopologyKeys(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	for i, term := range required {
		allErrs = append(allErrs, checkDeprecatedLabel(term.TopologyKey,
			fldPath.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i).Child("topologyKey"))...)
	}
	for i, term := range preferred {
		allErrs = append(allErrs, checkDeprecatedLabel(term.PodAffinityTerm.TopologyKey,
			fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i).Child("podAffinityTerm", "topologyKey"))...)
	}
	return allErrs
}

// checkAffinityDeprecatedLabel reports deprecated node labels in
// placement: nodeSelector keys, node affinity keys, pod (anti-)affinity
// topologyKeys and topologySpreadConstraints topologyKeys. A term that
// names a deprecated label silently stops matching on nodes that carry only
// the stable one.
func checkAffinityDeprecatedLabel(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	spec := in.PodSpec
	for _, key := range sets.List(sets.KeySet(spec.NodeSelector)) {
		allErrs = append(allErrs, checkDeprecatedLabel(key, in.PodSpecPath.Child("nodeSelector").Key(key))...)
	}
	if a := spec.Affinity; a != nil {
		fldPath := in.PodSpecPath.Child("affinity")
		allErrs = append(allErrs, checkDeprecatedNodeAffinityLabels(a.NodeAffinity, fldPath.Child("nodeAffinity"))...)
		if pa := a.PodAffinity; pa != nil {
			allErrs = append(allErrs, checkDeprecatedPodAffinityTopologyKeys(pa.RequiredDuringSchedulingIgnoredDuringExecution,
				pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAffinity"))...)
		}
		if paa := a.PodAntiAffinity; paa != nil {
			allErrs = append(allErrs, checkDeprecatedPodAffinityTopologyKeys(paa.RequiredDuringSchedulingIgnoredDuringExecution,
				paa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAntiAffinity"))...)
		}
	}
	for i, c := range spec.TopologySpreadConstraints {
		allErrs = append(allErrs, checkDeprecatedLabel(c.TopologyKey,
			in.PodSpecPath.Child("topologySpreadConstraints").Index(i).Child("topologyKey"))...)
	}
	return allErrs
}
