package policies

import (
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// How the scheduler reads a PodAffinityTerm (k8s.io/kube-scheduler
// framework.newAffinityTerm and the interpodaffinity plugin, v1.37):
//   - the labelSelector goes through metav1.LabelSelectorAsSelector, so a nil
//     selector matches no pod and an empty one ({}) matches every pod;
//   - the term looks in the pod's own namespace when both namespaces and
//     namespaceSelector are unset; otherwise in the listed namespaces plus
//     those the namespaceSelector matches (a nil namespaceSelector matches none);
//   - a required affinity term no existing pod matches is still met when the
//     pod matches all its own terms (the first pod of a self-affine group), but
//     a nil selector never matches, so such a pod stays Pending forever;
//   - anti-affinity is symmetric: an existing pod's required anti-affinity
//     also keeps matching newcomers out of its topology domain;
//   - a node without the term's topologyKey label fails every required
//     affinity term, and escapes every anti-affinity term.
// kube-apiserver merges matchLabelKeys (as "key In (value)") and
// mismatchLabelKeys (as "key NotIn (value)") into a non-nil labelSelector when
// the pod is created, using the pod's labels; keys the pod lacks are dropped.

// Labels that controllers add to the pods they create, beyond the template's.
const (
	daemonSetTemplateGenerationLabel = "pod-template-generation"
	legacyJobControllerUIDLabel      = "controller-uid"
	legacyJobNameLabel               = "job-name"
)

// affinityTerm is one pod affinity or anti-affinity term with its place in
// the pod spec. The place is kept as parts and turned into a field path only
// for an error: most terms have none, and paths are allocations.
type affinityTerm struct {
	term     *corev1.PodAffinityTerm
	specPath *field.Path
	index    int
	anti     bool
	required bool
}

// path returns the term's field path, such as
// spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.
func (t affinityTerm) path() *field.Path {
	p := t.specPath.Child("affinity", "podAffinity")
	if t.anti {
		p = t.specPath.Child("affinity", "podAntiAffinity")
	}
	if t.required {
		return p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(t.index)
	}
	return p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(t.index).Child("podAffinityTerm")
}

// kind names the term's field for messages.
func (t affinityTerm) kind() string {
	if t.anti {
		return "pod anti-affinity"
	}
	return "pod affinity"
}

// podAffinityTerms lists every pod affinity and anti-affinity term of the
// workload's pod spec, required before preferred. Several rules read them,
// so the list is made once per workload.
func podAffinityTerms(w *Workload) []affinityTerm {
	if w.affinityTerms != nil || w.PodSpec.Affinity == nil {
		return w.affinityTerms
	}
	terms := []affinityTerm{}
	if pa := w.PodSpec.Affinity.PodAffinity; pa != nil {
		terms = appendAffinityTerms(terms, pa.RequiredDuringSchedulingIgnoredDuringExecution,
			pa.PreferredDuringSchedulingIgnoredDuringExecution, w.PodSpecPath, false)
	}
	if paa := w.PodSpec.Affinity.PodAntiAffinity; paa != nil {
		terms = appendAffinityTerms(terms, paa.RequiredDuringSchedulingIgnoredDuringExecution,
			paa.PreferredDuringSchedulingIgnoredDuringExecution, w.PodSpecPath, true)
	}
	w.affinityTerms = terms
	return terms
}

func appendAffinityTerms(terms []affinityTerm, required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, specPath *field.Path, anti bool) []affinityTerm {
	for i := range required {
		terms = append(terms, affinityTerm{term: &required[i], specPath: specPath, index: i, anti: anti, required: true})
	}
	for i := range preferred {
		terms = append(terms, affinityTerm{term: &preferred[i].PodAffinityTerm, specPath: specPath, index: i, anti: anti})
	}
	return terms
}

// checkPodAffinityEmptySelector reports required terms whose selector makes
// the pods unschedulable: pod affinity with no labelSelector (it matches no
// pod, not even the pod itself, so the self-affinity exception never applies),
// and pod anti-affinity with an empty labelSelector, which repels every pod of
// its namespaces, the workload's own replicas included. An empty selector
// that matchLabelKeys or mismatchLabelKeys fill in at pod creation is not
// empty any more, and is left alone.
func checkPodAffinityEmptySelector(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	podKeys := podLabelKeys(in.Workload)
	for _, t := range podAffinityTerms(in.Workload) {
		switch sel := t.term.LabelSelector; {
		case !t.required:
		case !t.anti && sel == nil:
			allErrs = append(allErrs, field.Required(t.path().Child("labelSelector"),
				"a required pod affinity term without a labelSelector matches no pod, so the pods stay Pending; select the pods to run next to"))
		case t.anti && isEmptySelector(sel) && !mergesLabelKeys(t.term, podKeys):
			allErrs = append(allErrs, field.Invalid(t.path().Child("labelSelector"), sel,
				"an empty labelSelector repels every pod in the term's namespaces, this workload's own included; select only the pods to keep away from"))
		}
	}
	return allErrs
}

// advisePodAffinityNoSelector reports the other terms without a
// labelSelector: they match no pod, so they have no effect at all.
func advisePodAffinityNoSelector(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	for _, t := range podAffinityTerms(in.Workload) {
		if t.term.LabelSelector == nil && (t.anti || !t.required) {
			allErrs = append(allErrs, field.Required(t.path().Child("labelSelector"),
				fmt.Sprintf("a %s term without a labelSelector matches no pod, so it has no effect; set a labelSelector or remove the term", t.kind())))
		}
	}
	return allErrs
}

// isEmptySelector reports whether sel is set but selects every pod.
func isEmptySelector(sel *metav1.LabelSelector) bool {
	return sel != nil && len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0
}

// mergesLabelKeys reports whether kube-apiserver will merge any of the term's
// matchLabelKeys or mismatchLabelKeys into its selector.
func mergesLabelKeys(term *corev1.PodAffinityTerm, podKeys podKeySet) bool {
	return podKeys.HasAny(term.MatchLabelKeys...) || podKeys.HasAny(term.MismatchLabelKeys...)
}

// checkPodAntiAffinityExceedsDomains reports required anti-affinity against
// the workload's own pods when there are more replicas than topology domains
// among the nodes the pods may use: the extra replicas can never be placed.
// A Deployment whose rolling update surges needs one domain more, for the
// surge pod. Nodes without the topologyKey label escape anti-affinity, so
// when any eligible node lacks it the pods are not blocked.
func checkPodAntiAffinityExceedsDomains(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.Replicas == nil {
		return allErrs
	}
	var eligible []*corev1.Node
	computed := false
	for _, t := range podAffinityTerms(in.Workload) {
		if !t.anti || !t.required || selectsOwnPods(t.term, in.Workload) != included {
			continue
		}
		if !computed {
			eligible, computed = eligibleNodes(in.PodSpec, in.Nodes), true
		}
		domains, bounded := topologyDomains(eligible, t.term.TopologyKey)
		if len(eligible) == 0 || !bounded {
			// No eligible node is another rule's finding; unlabeled nodes
			// take any number of replicas.
			continue
		}
		replicas := int(*in.Replicas)
		switch {
		case replicas > domains:
			allErrs = append(allErrs, field.Forbidden(t.path(), fmt.Sprintf(
				"%d replicas repel each other but eligible nodes have only %d %s values, leaving %d Pending; lower replicas, add nodes, or use preferred anti-affinity or ScheduleAnyway topologySpreadConstraints",
				replicas, domains, t.term.TopologyKey, replicas-domains)))
		case replicas == domains:
			if why := surgeBlocked(in.Deployment, t.term); why != "" {
				allErrs = append(allErrs, field.Forbidden(t.path(), fmt.Sprintf(
					"%d replicas fill all %d %s values of eligible nodes, so %s, add nodes, or use preferred anti-affinity",
					replicas, domains, t.term.TopologyKey, why)))
			}
		}
	}
	return allErrs
}

// deploymentFenceposts resolves a Deployment's rolling update maxSurge
// (rounded up) and maxUnavailable (rounded down) as the deployment controller
// does, with the API defaults (RollingUpdate, 25% and 25%). It returns zeros
// for the Recreate strategy, which never surges.
func deploymentFenceposts(d *appsv1.Deployment) (surge, unavailable int) {
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return 0, 0
	}
	maxSurge, maxUnavailable := intstr.FromString("25%"), intstr.FromString("25%")
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		maxSurge = ptr.Deref(ru.MaxSurge, maxSurge)
		maxUnavailable = ptr.Deref(ru.MaxUnavailable, maxUnavailable)
	}
	replicas := int(ptr.Deref(d.Spec.Replicas, 1))
	surge, _ = intstr.GetScaledValueFromIntOrPercent(&maxSurge, replicas, true)
	unavailable, _ = intstr.GetScaledValueFromIntOrPercent(&maxUnavailable, replicas, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// surgeBlocked returns why a Deployment's surge pod cannot be placed when its
// replicas already fill every domain of a self anti-affinity term, or ""
// when the rollout does not surge. A term that repels only its own revision
// (matchLabelKeys: [pod-template-hash]) does not see the old pods.
func surgeBlocked(d *appsv1.Deployment, term *corev1.PodAffinityTerm) string {
	if d == nil || slices.Contains(term.MatchLabelKeys, appsv1.DefaultDeploymentUniqueLabelKey) {
		return ""
	}
	switch surge, unavailable := deploymentFenceposts(d); {
	case surge == 0:
		return ""
	case unavailable == 0:
		return "a rolling update's surge pod stays Pending and the rollout stalls; set maxSurge to 0 and maxUnavailable to 1"
	default:
		return "a rolling update's surge pod stays Pending until an old pod is deleted; set maxSurge to 0"
	}
}

// topologyDomains counts the distinct values of key among nodes, and reports
// whether every node carries the key (only then does anti-affinity bound the
// number of pods).
func topologyDomains(nodes []*corev1.Node, key string) (domains int, bounded bool) {
	values := sets.New[string]()
	for _, node := range nodes {
		value, ok := node.Labels[key]
		if !ok {
			return 0, false
		}
		values.Insert(value)
	}
	return values.Len(), true
}

// inclusion says whether a term reaches some pods: surely, possibly (it
// depends on namespace labels the admission request does not carry), or not.
type inclusion int

const (
	excluded inclusion = iota
	maybeIncluded
	included
)

// selectsOwnPods says whether the term matches the workload's own pods: its
// labelSelector matches the pod template labels and its namespaces include
// the workload's namespace. matchLabelKeys become "key In (own value)" and
// never exclude the pod's own group; mismatchLabelKeys become
// "key NotIn (own value)" and always do.
func selectsOwnPods(term *corev1.PodAffinityTerm, w *Workload) inclusion {
	if term.LabelSelector == nil || podLabelKeys(w).HasAny(term.MismatchLabelKeys...) {
		return excluded
	}
	if !selectorMatches(w.labels, term.LabelSelector, w.PodMeta.Labels) {
		return excluded
	}
	return termIncludesNamespace(term, w.Namespace())
}

// selectorMatches reports whether sel, a valid selector, matches set, as
// metav1.LabelSelectorAsSelector(sel).Matches(set) does, and false for an
// invalid selector. A selector of valid matchLabels alone is matched without
// building a labels.Selector.
func selectorMatches(memo *labelMemo, sel *metav1.LabelSelector, set map[string]string) bool {
	if len(sel.MatchExpressions) == 0 && memo.pairs(sel.MatchLabels) {
		return setMatches(sel.MatchLabels, set)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(set))
}

// setMatches reports whether set holds every label of selector, as
// labels.SelectorFromSet(selector).Matches(labels.Set(set)) does, without
// building the selector.
func setMatches(selector, set map[string]string) bool {
	for k, v := range selector {
		if got, ok := set[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// termIncludesNamespace says whether the term looks in namespace ns. Only
// the kubernetes.io/metadata.name label of a namespace is known for sure, so
// a namespaceSelector on any other label may or may not match.
func termIncludesNamespace(term *corev1.PodAffinityTerm, ns string) inclusion {
	if (len(term.Namespaces) == 0 && term.NamespaceSelector == nil) || slices.Contains(term.Namespaces, ns) {
		return included
	}
	if term.NamespaceSelector == nil {
		return excluded
	}
	sel, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
	if err != nil {
		return excluded
	}
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		if r.Key() != corev1.LabelMetadataName {
			return maybeIncluded
		}
	}
	if sel.Matches(labels.Set{corev1.LabelMetadataName: ns}) {
		return included
	}
	return excluded
}

// podLabelKeys returns the label keys the workload's pods will carry: the
// template's and those the controller adds.
func podLabelKeys(w *Workload) podKeySet {
	return podKeySet{labels: w.PodMeta.Labels, added: controllerLabelKeys(w)}
}

// podKeySet is a set of label keys: a pod template's and the controller's.
type podKeySet struct {
	labels map[string]string
	added  []string
}

// Has reports whether key is in the set.
func (s podKeySet) Has(key string) bool {
	_, ok := s.labels[key]
	return ok || slices.Contains(s.added, key)
}

// HasAny reports whether any of keys is in the set.
func (s podKeySet) HasAny(keys ...string) bool {
	return slices.ContainsFunc(keys, s.Has)
}

// The labels the controllers add to every pod they create.
var (
	deploymentLabelKeys  = []string{appsv1.DefaultDeploymentUniqueLabelKey}
	statefulSetLabelKeys = []string{appsv1.ControllerRevisionHashLabelKey, appsv1.StatefulSetPodNameLabel, appsv1.PodIndexLabel}
	daemonSetLabelKeys   = []string{appsv1.ControllerRevisionHashLabelKey, daemonSetTemplateGenerationLabel}
)

// controllerLabelKeys returns the labels the workload's controller adds to
// every pod it creates, beyond the template's.
func controllerLabelKeys(w *Workload) []string {
	switch o := w.Object.(type) {
	case *appsv1.Deployment:
		return deploymentLabelKeys
	case *appsv1.StatefulSet:
		return statefulSetLabelKeys
	case *appsv1.DaemonSet:
		return daemonSetLabelKeys
	case *batchv1.Job:
		return jobLabelKeys(&o.Spec)
	case *batchv1.CronJob:
		return jobLabelKeys(&o.Spec.JobTemplate.Spec)
	}
	return nil
}

func jobLabelKeys(spec *batchv1.JobSpec) []string {
	keys := []string{batchv1.ControllerUidLabel, batchv1.JobNameLabel, legacyJobControllerUIDLabel, legacyJobNameLabel}
	if spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion {
		// The completion index annotation is also set as a label.
		keys = append(keys, batchv1.JobCompletionIndexAnnotation)
	}
	return keys
}

// checkPodAntiAffinityNotSelf reports a replicated workload whose pod
// anti-affinity selects none of its own pods, which is most often a typo in
// the labelSelector: the replicas are then not kept apart at all. A term with
// mismatchLabelKeys targets other groups on purpose, and terms without a
// labelSelector are pod-affinity-empty-selector's concern.
func checkPodAntiAffinityNotSelf(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.Replicas == nil || *in.Replicas <= 1 {
		return allErrs
	}
	considered := false
	for _, t := range podAffinityTerms(in.Workload) {
		if !t.anti || t.term.LabelSelector == nil {
			continue
		}
		if len(t.term.MismatchLabelKeys) > 0 || selectsOwnPods(t.term, in.Workload) != excluded {
			return allErrs
		}
		considered = true
	}
	if considered {
		allErrs = append(allErrs, field.Required(in.PodSpecPath.Child("affinity", "podAntiAffinity"), fmt.Sprintf(
			"no term selects this workload's own pods, so its %d replicas are not kept apart; check the labelSelector against the pod template labels",
			*in.Replicas)))
	}
	return allErrs
}

// checkDaemonSetPodAntiAffinity reports required anti-affinity of a DaemonSet
// against its own pods: the DaemonSet already runs one pod per node, and the
// term keeps a surge rollout's new pod off the node its old pod still holds
// (or, on a wider topologyKey, all but one pod per domain off their nodes).
func checkDaemonSetPodAntiAffinity(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if in.DaemonSet == nil {
		return allErrs
	}
	for _, t := range podAffinityTerms(in.Workload) {
		if !t.anti || !t.required || selectsOwnPods(t.term, in.Workload) != included {
			continue
		}
		detail := "a DaemonSet already runs one pod per node, so required anti-affinity against its own pods only blocks surge rollouts; remove the term"
		if t.term.TopologyKey != corev1.LabelHostname {
			detail = fmt.Sprintf("required anti-affinity against the DaemonSet's own pods leaves all but one pod per %s value Pending; remove the term", t.term.TopologyKey)
		}
		allErrs = append(allErrs, field.Forbidden(t.path(), detail))
	}
	return allErrs
}

// checkMatchLabelKeysAbsent reports matchLabelKeys and mismatchLabelKeys
// entries naming a label the pods will not carry: kube-apiserver and the
// scheduler silently skip such keys, so the term does not narrow to the
// pod's group as intended. Terms without a labelSelector are skipped: the
// API server rejects label keys there.
func checkMatchLabelKeysAbsent(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	podKeys := podLabelKeys(in.Workload)
	detail := "the pods will not carry this label, so the key is ignored; use a key of the pod template labels"
	if keys := controllerLabelKeys(in.Workload); len(keys) > 0 {
		detail += " or one the controller adds, such as " + keys[0]
	}
	for _, t := range podAffinityTerms(in.Workload) {
		if t.term.LabelSelector == nil {
			continue
		}
		if len(t.term.MatchLabelKeys) > 0 {
			allErrs = append(allErrs, checkLabelKeysPresent(t.term.MatchLabelKeys, podKeys, t.path().Child("matchLabelKeys"), detail)...)
		}
		if len(t.term.MismatchLabelKeys) > 0 {
			allErrs = append(allErrs, checkLabelKeysPresent(t.term.MismatchLabelKeys, podKeys, t.path().Child("mismatchLabelKeys"), detail)...)
		}
	}
	for i, c := range in.PodSpec.TopologySpreadConstraints {
		if c.LabelSelector == nil {
			continue
		}
		fldPath := in.PodSpecPath.Child("topologySpreadConstraints").Index(i).Child("matchLabelKeys")
		allErrs = append(allErrs, checkLabelKeysPresent(c.MatchLabelKeys, podKeys, fldPath, detail)...)
	}
	return allErrs
}

func checkLabelKeysPresent(keys []string, podKeys podKeySet, fldPath *field.Path, detail string) field.ErrorList {
	allErrs := field.ErrorList{}
	for i, key := range keys {
		if !podKeys.Has(key) {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), key, detail))
		}
	}
	return allErrs
}

const suggestTopologyKey = "use a label the nodes carry, such as topology.kubernetes.io/zone"

// checkTopologyKeyUnknown reports topologyKeys that no node carries. Such a
// node fails required pod affinity and DoNotSchedule spread constraints, so
// the pods stay Pending; every other term or constraint has no effect. With
// no nodes at all nothing can be told.
func checkTopologyKeyUnknown(in *Input) field.ErrorList {
	allErrs := field.ErrorList{}
	if len(in.Nodes) == 0 {
		return allErrs
	}
	nodeKeys := sets.New[string]()
	for _, node := range in.Nodes {
		for key := range node.Labels {
			nodeKeys.Insert(key)
		}
	}
	for _, t := range podAffinityTerms(in.Workload) {
		if key := t.term.TopologyKey; key != "" && !nodeKeys.Has(key) {
			detail := "no node has this label, so the term has no effect; " + suggestTopologyKey
			if t.required && !t.anti {
				detail = "no node has this label, so no node satisfies the term and the pods stay Pending; " + suggestTopologyKey
			}
			allErrs = append(allErrs, field.Invalid(t.path().Child("topologyKey"), key, detail))
		}
	}
	for i, c := range in.PodSpec.TopologySpreadConstraints {
		if c.TopologyKey == "" || nodeKeys.Has(c.TopologyKey) {
			continue
		}
		detail := "no node has this label, so no node passes the constraint and the pods stay Pending; " + suggestTopologyKey
		if c.WhenUnsatisfiable == corev1.ScheduleAnyway {
			detail = "no node has this label, so the constraint has no effect; " + suggestTopologyKey
		}
		allErrs = append(allErrs, field.Invalid(in.PodSpecPath.Child("topologySpreadConstraints").Index(i).Child("topologyKey"), c.TopologyKey, detail))
	}
	return allErrs
}
