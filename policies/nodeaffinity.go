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
