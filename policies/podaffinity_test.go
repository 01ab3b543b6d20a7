package policies

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	podAffinityTmplSpec     = field.NewPath("spec", "template", "spec")
	podAffinityTmplAffinity = podAffinityTmplSpec.Child("affinity")
	podAffinityReq          = podAffinityTmplAffinity.Child("podAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
	podAffinityPref         = podAffinityTmplAffinity.Child("podAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
	podAntiAffinityReq      = podAffinityTmplAffinity.Child("podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
	podAntiAffinityPref     = podAffinityTmplAffinity.Child("podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
)

// podAffinitySelector returns a labelSelector with the given matchLabels
// (key, value pairs).
func podAffinitySelector(kv ...string) *metav1.LabelSelector {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		sel.MatchLabels[kv[i]] = kv[i+1]
	}
	return sel
}

// podAffinityTerm returns a term with the given selector and topologyKey.
func podAffinityTerm(sel *metav1.LabelSelector, topologyKey string) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{LabelSelector: sel, TopologyKey: topologyKey}
}

// podAffinityWeighted wraps terms as preferred terms of weight 100.
func podAffinityWeighted(terms ...corev1.PodAffinityTerm) []corev1.WeightedPodAffinityTerm {
	var weighted []corev1.WeightedPodAffinityTerm
	for _, t := range terms {
		weighted = append(weighted, corev1.WeightedPodAffinityTerm{Weight: 100, PodAffinityTerm: t})
	}
	return weighted
}

// podAntiAffinitySpec returns a pod spec with the given required and
// preferred pod anti-affinity terms.
func podAntiAffinitySpec(required []corev1.PodAffinityTerm, preferred ...corev1.PodAffinityTerm) corev1.PodSpec {
	return corev1.PodSpec{Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution:  required,
		PreferredDuringSchedulingIgnoredDuringExecution: podAffinityWeighted(preferred...),
	}}}
}

// podAffinitySpec returns a pod spec with the given required and preferred
// pod affinity terms.
func podAffinitySpec(required []corev1.PodAffinityTerm, preferred ...corev1.PodAffinityTerm) corev1.PodSpec {
	return corev1.PodSpec{Affinity: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution:  required,
		PreferredDuringSchedulingIgnoredDuringExecution: podAffinityWeighted(preferred...),
	}}}
}

// podAffinitySelfAnti returns a spec with required anti-affinity against
// app=app on topologyKey.
func podAffinitySelfAnti(app, topologyKey string) corev1.PodSpec {
	return podAntiAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(podAffinitySelector("app", app), topologyKey)})
}

// podAffinityStatefulSet returns a StatefulSet "db" in namespace "apps"
// whose pod template has the given spec and labels app=db.
func podAffinityStatefulSet(replicas int32, spec corev1.PodSpec) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "apps"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}}, Spec: spec},
		},
	}
}

// podAffinityDaemonSet returns a DaemonSet "agent" in namespace "apps"
// whose pod template has the given spec and labels app=agent.
func podAffinityDaemonSet(spec corev1.PodSpec) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "apps"},
		Spec: appsv1.DaemonSetSpec{
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}}, Spec: spec},
		},
	}
}

// podAffinityJob returns a Job "batch" in namespace "apps" with the given
// completion mode and pod spec, labels app=batch.
func podAffinityJob(mode batchv1.CompletionMode, spec corev1.PodSpec) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: "apps"},
		Spec: batchv1.JobSpec{
			CompletionMode: &mode,
			Template:       corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "batch"}}, Spec: spec},
		},
	}
}

// podAffinityDeploymentStrategy returns deploymentWith(replicas, spec) with
// the given strategy.
func podAffinityDeploymentStrategy(replicas int32, spec corev1.PodSpec, strategy appsv1.DeploymentStrategy) *appsv1.Deployment {
	d := deploymentWith(replicas, spec)
	d.Spec.Strategy = strategy
	return d
}

// podAffinityRollingUpdate returns a RollingUpdate strategy with the given
// maxSurge and maxUnavailable.
func podAffinityRollingUpdate(maxSurge, maxUnavailable intstr.IntOrString) appsv1.DeploymentStrategy {
	return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &maxSurge, MaxUnavailable: &maxUnavailable}}
}

// podAffinityNode returns a node with a hostname label, the given zone label
// (none when empty) and taints.
func podAffinityNode(name, zone string, taints ...corev1.Taint) *corev1.Node {
	nodeLabels := map[string]string{corev1.LabelHostname: name}
	if zone != "" {
		nodeLabels[corev1.LabelTopologyZone] = zone
	}
	return nodeWith(name, nodeLabels, taints...)
}

// podAffinityNodes returns n nodes n1..nN, node i in zone "z<i mod zones>".
func podAffinityNodes(n, zones int) []*corev1.Node {
	var nodes []*corev1.Node
	for i := range n {
		nodes = append(nodes, podAffinityNode("n"+string(rune('1'+i)), "z"+string(rune('a'+i%zones))))
	}
	return nodes
}

func TestCheckPodAffinityEmptySelector(t *testing.T) {
	const (
		affinityDetail = "a required pod affinity term without a labelSelector matches no pod, so the pods stay Pending; select the pods to run next to"
		antiDetail     = "an empty labelSelector repels every pod in the term's namespaces, this workload's own included; select only the pods to keep away from"
	)
	empty := &metav1.LabelSelector{}
	withKeys := func(term corev1.PodAffinityTerm, keys ...string) corev1.PodAffinityTerm {
		term.MatchLabelKeys = keys
		return term
	}
	inOther := podAffinityTerm(&metav1.LabelSelector{}, corev1.LabelHostname)
	inOther.Namespaces = []string{"other"}
	cases := []checkCase{
		{name: "required pod affinity without a labelSelector can never be met",
			obj:  deploymentWith(2, podAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(nil, corev1.LabelHostname)})),
			want: field.ErrorList{field.Required(podAffinityReq.Index(0).Child("labelSelector"), affinityDetail)}},
		{name: "required pod anti-affinity with an empty labelSelector repels every pod",
			obj:  deploymentWith(2, podAntiAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(empty, corev1.LabelHostname)})),
			want: field.ErrorList{field.Invalid(podAntiAffinityReq.Index(0).Child("labelSelector"), empty, antiDetail)}},
		{name: "an empty anti-affinity labelSelector in another namespace still repels every pod there",
			obj:  deploymentWith(2, podAntiAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(podAffinitySelector("app", "web"), corev1.LabelHostname), inOther})),
			want: field.ErrorList{field.Invalid(podAntiAffinityReq.Index(1).Child("labelSelector"), empty, antiDetail)}},
		{name: "an empty anti-affinity labelSelector that matchLabelKeys fills with pod-template-hash is fine",
			obj: deploymentWith(2, podAntiAffinitySpec([]corev1.PodAffinityTerm{withKeys(podAffinityTerm(empty, corev1.LabelHostname), "pod-template-hash")}))},
		{name: "an empty anti-affinity labelSelector whose matchLabelKeys the pods lack is still empty",
			obj:  deploymentWith(2, podAntiAffinitySpec([]corev1.PodAffinityTerm{withKeys(podAffinityTerm(empty, corev1.LabelHostname), "tier")})),
			want: field.ErrorList{field.Invalid(podAntiAffinityReq.Index(0).Child("labelSelector"), empty, antiDetail)}},
		{name: "required pod affinity with an empty labelSelector is met by the first pod itself",
			obj: deploymentWith(2, podAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(empty, corev1.LabelHostname)}))},
		{name: "preferred anti-affinity with an empty labelSelector only spreads, and is fine",
			obj: deploymentWith(2, podAntiAffinitySpec(nil, podAffinityTerm(empty, corev1.LabelHostname)))},
		{name: "terms without a labelSelector other than required pod affinity are left to the advice",
			obj: deploymentWith(2, podAntiAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(nil, corev1.LabelHostname)}, podAffinityTerm(nil, corev1.LabelHostname)))},
		{name: "a Pod is reported under spec.affinity",
			obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "apps"},
				Spec: podAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(podAffinitySelector("app", "db"), corev1.LabelHostname), podAffinityTerm(nil, corev1.LabelHostname)})},
			want: field.ErrorList{field.Required(field.NewPath("spec", "affinity", "podAffinity", "requiredDuringSchedulingIgnoredDuringExecution").Index(1).Child("labelSelector"), affinityDetail)}},
		{name: "selectors that select some pods are fine",
			obj: deploymentWith(2, podAntiAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(podAffinitySelector("app", "web"), corev1.LabelHostname)}))},
	}
	runCheckCases(t, checkPodAffinityEmptySelector, cases)
}

func TestAdvisePodAffinityNoSelector(t *testing.T) {
	const (
		affinityDetail = "a pod affinity term without a labelSelector matches no pod, so it has no effect; set a labelSelector or remove the term"
		antiDetail     = "a pod anti-affinity term without a labelSelector matches no pod, so it has no effect; set a labelSelector or remove the term"
	)
	web := podAffinityTerm(podAffinitySelector("app", "web"), corev1.LabelHostname)
	none := podAffinityTerm(nil, corev1.LabelHostname)
	cases := []checkCase{
		{name: "preferred pod affinity without a labelSelector has no effect",
			obj:  deploymentWith(2, podAffinitySpec(nil, web, none)),
			want: field.ErrorList{field.Required(podAffinityPref.Index(1).Child("podAffinityTerm", "labelSelector"), affinityDetail)}},
		{name: "preferred and required pod anti-affinity without a labelSelector have no effect",
			obj: deploymentWith(2, podAntiAffinitySpec([]corev1.PodAffinityTerm{none}, none)),
			want: field.ErrorList{
				field.Required(podAntiAffinityReq.Index(0).Child("labelSelector"), antiDetail),
				field.Required(podAntiAffinityPref.Index(0).Child("podAffinityTerm", "labelSelector"), antiDetail),
			}},
		{name: "required pod affinity without a labelSelector is the check's finding, not advice",
			obj: deploymentWith(2, podAffinitySpec([]corev1.PodAffinityTerm{none}))},
		{name: "terms with a labelSelector, even an empty one, get no advice",
			obj: deploymentWith(2, podAntiAffinitySpec([]corev1.PodAffinityTerm{web}, podAffinityTerm(&metav1.LabelSelector{}, corev1.LabelHostname)))},
		{name: "a pod spec without affinity gets no advice",
			obj: deploymentWith(2, corev1.PodSpec{})},
	}
	runCheckCases(t, advisePodAffinityNoSelector, cases)
}

func TestCheckPodAntiAffinityExceedsDomains(t *testing.T) {
	hostDetail := func(replicas, domains, pending string) string {
		return replicas + " replicas repel each other but eligible nodes have only " + domains +
			" kubernetes.io/hostname values, leaving " + pending + " Pending; lower replicas, add nodes, or use preferred anti-affinity or ScheduleAnyway topologySpreadConstraints"
	}
	const (
		stallDetail = "3 replicas fill all 3 kubernetes.io/hostname values of eligible nodes, so a rolling update's surge pod stays Pending and the rollout stalls; set maxSurge to 0 and maxUnavailable to 1, add nodes, or use preferred anti-affinity"
		waitDetail  = "2 replicas fill all 2 kubernetes.io/hostname values of eligible nodes, so a rolling update's surge pod stays Pending until an old pod is deleted; set maxSurge to 0, add nodes, or use preferred anti-affinity"
	)
	noSchedule := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	tainted := append(podAffinityNodes(3, 3), podAffinityNode("gpu", "za", noSchedule))
	preferNo := append(podAffinityNodes(3, 3), podAffinityNode("soft", "za", corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectPreferNoSchedule}))
	notReady := append(podAffinityNodes(3, 3), podAffinityNode("booting", "za", corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}))
	cordoned := append(podAffinityNodes(3, 3), podAffinityNode("cordoned", "za"))
	cordoned[3].Spec.Unschedulable = true
	unlabeled := append(podAffinityNodes(3, 3), nodeWith("bare", nil))
	hostSelf := podAffinitySelfAnti("web", corev1.LabelHostname)
	tolerating := podAffinitySelfAnti("web", corev1.LabelHostname)
	tolerating.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	toleratingCordon := podAffinitySelfAnti("web", corev1.LabelHostname)
	toleratingCordon.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists}}
	onSSD := podAffinitySelfAnti("web", corev1.LabelHostname)
	onSSD.NodeSelector = map[string]string{"disk": "ssd"}
	ssdNodes := podAffinityNodes(3, 3)
	for _, n := range ssdNodes[:2] {
		n.Labels["disk"] = "ssd"
	}
	notZoneC := podAffinitySelfAnti("web", corev1.LabelHostname)
	notZoneC.Affinity.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"zc"}}}}}}}
	revisionOnly := podAffinitySelfAnti("web", corev1.LabelHostname)
	revisionOnly.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].MatchLabelKeys = []string{"pod-template-hash"}
	otherNS := podAffinitySelfAnti("web", corev1.LabelHostname)
	otherNS.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].Namespaces = []string{"other"}
	byName := podAffinitySelfAnti("web", corev1.LabelHostname)
	byName.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].NamespaceSelector = podAffinitySelector(corev1.LabelMetadataName, "apps")
	byTeam := podAffinitySelfAnti("web", corev1.LabelHostname)
	byTeam.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].NamespaceSelector = podAffinitySelector("team", "a")
	cases := []checkCase{
		{name: "a StatefulSet with 3 replicas and 3 zones fits",
			obj: podAffinityStatefulSet(3, podAffinitySelfAnti("db", corev1.LabelTopologyZone)), nodes: podAffinityNodes(6, 3)},
		{name: "a StatefulSet with 4 replicas and 3 zones leaves one pod Pending",
			obj: podAffinityStatefulSet(4, podAffinitySelfAnti("db", corev1.LabelTopologyZone)), nodes: podAffinityNodes(6, 3),
			want: field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0),
				"4 replicas repel each other but eligible nodes have only 3 topology.kubernetes.io/zone values, leaving 1 Pending; lower replicas, add nodes, or use preferred anti-affinity or ScheduleAnyway topologySpreadConstraints")}},
		{name: "a Deployment with the default rolling update (25% of 3 is 1 surge, 0 unavailable) and as many replicas as nodes stalls its rollout",
			obj: deploymentWith(3, hostSelf), nodes: podAffinityNodes(3, 3),
			want: field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), stallDetail)}},
		{name: "a Deployment with maxSurge 10% of 3 replicas still surges one pod, rounded up",
			obj:   podAffinityDeploymentStrategy(3, hostSelf, podAffinityRollingUpdate(intstr.FromString("10%"), intstr.FromInt32(0))),
			nodes: podAffinityNodes(3, 3),
			want:  field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), stallDetail)}},
		{name: "a Deployment that surges and may go unavailable waits for an old pod to go",
			obj:   podAffinityDeploymentStrategy(2, hostSelf, podAffinityRollingUpdate(intstr.FromString("25%"), intstr.FromString("50%"))),
			nodes: podAffinityNodes(2, 2),
			want:  field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), waitDetail)}},
		{name: "a Deployment with a RollingUpdate block that omits maxSurge still surges 25%",
			obj: podAffinityDeploymentStrategy(3, hostSelf, appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{}}),
			nodes: podAffinityNodes(3, 3),
			want:  field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), stallDetail)}},
		{name: "a Deployment with maxSurge 0 and maxUnavailable 1 fits as many replicas as nodes",
			obj:   podAffinityDeploymentStrategy(3, hostSelf, podAffinityRollingUpdate(intstr.FromInt32(0), intstr.FromInt32(1))),
			nodes: podAffinityNodes(3, 3)},
		{name: "a Deployment with the Recreate strategy fits as many replicas as nodes",
			obj:   podAffinityDeploymentStrategy(3, hostSelf, appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}),
			nodes: podAffinityNodes(3, 3)},
		{name: "a surge pod that repels only its own revision through matchLabelKeys pod-template-hash fits",
			obj: deploymentWith(3, revisionOnly), nodes: podAffinityNodes(3, 3)},
		{name: "a Deployment with fewer replicas than nodes has room for its surge pod",
			obj: deploymentWith(2, hostSelf), nodes: podAffinityNodes(3, 3)},
		{name: "a node with an untolerated NoSchedule taint is not eligible",
			obj: podAffinityStatefulSet(4, podAffinitySelfAnti("db", corev1.LabelHostname)), nodes: tainted,
			want: field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), hostDetail("4", "3", "1"))}},
		{name: "a node whose taint is tolerated is eligible",
			obj:   podAffinityStatefulSet(4, podAffinityRetarget(tolerating, "db")),
			nodes: tainted},
		{name: "a PreferNoSchedule taint does not make a node ineligible",
			obj: podAffinityStatefulSet(4, podAffinitySelfAnti("db", corev1.LabelHostname)), nodes: preferNo},
		{name: "a node that is not ready yet stays eligible: its condition taint is lifted when it is ready",
			obj: podAffinityStatefulSet(4, podAffinitySelfAnti("db", corev1.LabelHostname)), nodes: notReady},
		{name: "a cordoned node is not eligible",
			obj: podAffinityStatefulSet(4, podAffinitySelfAnti("db", corev1.LabelHostname)), nodes: cordoned,
			want: field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), hostDetail("4", "3", "1"))}},
		{name: "a cordoned node is eligible for pods that tolerate the unschedulable taint",
			obj: podAffinityStatefulSet(4, podAffinityRetarget(toleratingCordon, "db")), nodes: cordoned},
		{name: "nodes outside the nodeSelector are not eligible",
			obj: podAffinityStatefulSet(3, podAffinityRetarget(onSSD, "db")), nodes: ssdNodes,
			want: field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), hostDetail("3", "2", "1"))}},
		{name: "nodes outside the required node affinity are not eligible",
			obj: podAffinityStatefulSet(3, podAffinityRetarget(notZoneC, "db")), nodes: podAffinityNodes(3, 3),
			want: field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), hostDetail("3", "2", "1"))}},
		{name: "an eligible node without the topologyKey label takes any number of replicas",
			obj: podAffinityStatefulSet(5, podAffinitySelfAnti("db", corev1.LabelHostname)), nodes: unlabeled},
		{name: "no eligible node at all is left to the node affinity rules",
			obj: podAffinityStatefulSet(3, podAffinityRetarget(onSSD, "db")), nodes: podAffinityNodes(3, 3)},
		{name: "anti-affinity against a different app does not limit the replicas",
			obj: podAffinityStatefulSet(5, podAffinitySelfAnti("cache", corev1.LabelHostname)), nodes: podAffinityNodes(3, 3)},
		{name: "anti-affinity against the same labels in another namespace does not limit the replicas",
			obj: deploymentWith(5, otherNS), nodes: podAffinityNodes(3, 3)},
		{name: "a namespaceSelector naming the own namespace counts",
			obj: deploymentWith(5, byName), nodes: podAffinityNodes(3, 3),
			want: field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), hostDetail("5", "3", "2"))}},
		{name: "a namespaceSelector on labels the request does not show is not counted",
			obj: deploymentWith(5, byTeam), nodes: podAffinityNodes(3, 3)},
		{name: "preferred self anti-affinity does not leave pods Pending",
			obj:   podAffinityStatefulSet(5, podAntiAffinitySpec(nil, podAffinityTerm(podAffinitySelector("app", "db"), corev1.LabelHostname))),
			nodes: podAffinityNodes(3, 3)},
		{name: "a DaemonSet has no replica count",
			obj: podAffinityDaemonSet(podAffinitySelfAnti("agent", corev1.LabelHostname)), nodes: podAffinityNodes(1, 1)},
	}
	runCheckCases(t, checkPodAntiAffinityExceedsDomains, cases)
}

// podAffinityRetarget rewrites the selectors; it documents that the spec's
// anti-affinity selects app=app, the owning workload's own label.
func podAffinityRetarget(spec corev1.PodSpec, app string) corev1.PodSpec {
	for i := range spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i].LabelSelector = podAffinitySelector("app", app)
	}
	return spec
}

func TestCheckPodAntiAffinityNotSelf(t *testing.T) {
	notSelf := func(replicas string) field.ErrorList {
		return field.ErrorList{field.Required(podAffinityTmplAffinity.Child("podAntiAffinity"),
			"no term selects this workload's own pods, so its "+replicas+" replicas are not kept apart; check the labelSelector against the pod template labels")}
	}
	host := corev1.LabelHostname
	superset := deploymentWith(3, podAffinitySelfAnti("web", host))
	superset.Spec.Template.Labels = map[string]string{"app": "web", "tier": "frontend", "release": "prod"}
	inOther := podAffinityTerm(podAffinitySelector("app", "web"), host)
	inOther.Namespaces = []string{"other"}
	byName := podAffinityTerm(podAffinitySelector("app", "web"), host)
	byName.NamespaceSelector = podAffinitySelector(corev1.LabelMetadataName, "apps")
	byOtherName := podAffinityTerm(podAffinitySelector("app", "web"), host)
	byOtherName.NamespaceSelector = podAffinitySelector(corev1.LabelMetadataName, "other")
	byTeam := podAffinityTerm(podAffinitySelector("app", "web"), host)
	byTeam.NamespaceSelector = podAffinitySelector("team", "a")
	matchKeys := podAffinityTerm(podAffinitySelector("app", "web"), host)
	matchKeys.MatchLabelKeys = []string{"pod-template-hash"}
	tenants := podAffinityTerm(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "tenant", Operator: metav1.LabelSelectorOpExists}}}, host)
	tenants.MismatchLabelKeys = []string{"tenant"}
	notWeb := podAffinityTerm(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}}}}, host)
	cases := []checkCase{
		{name: "anti-affinity against a different app on a single-replica Deployment is fine",
			obj: deploymentWith(1, podAffinitySelfAnti("db", host))},
		{name: "anti-affinity against a different app on a 3-replica Deployment does not keep the replicas apart",
			obj: deploymentWith(3, podAffinitySelfAnti("db", host)), want: notSelf("3")},
		{name: "pod template labels that are a superset of the selector select the own pods",
			obj: superset},
		{name: "a typo in a preferred term's selector is reported",
			obj:  podAffinityStatefulSet(2, podAntiAffinitySpec(nil, podAffinityTerm(podAffinitySelector("app", "bd"), host))),
			want: notSelf("2")},
		{name: "one self-selecting term among cross-app ones is enough",
			obj: deploymentWith(3, podAntiAffinitySpec(
				[]corev1.PodAffinityTerm{podAffinityTerm(podAffinitySelector("app", "db"), host)},
				podAffinityTerm(podAffinitySelector("app", "web"), corev1.LabelTopologyZone)))},
		{name: "a term whose namespaces leave out the own namespace does not select the own pods",
			obj: deploymentWith(3, podAntiAffinitySpec([]corev1.PodAffinityTerm{inOther})), want: notSelf("3")},
		{name: "a namespaceSelector naming another namespace does not select the own pods",
			obj: deploymentWith(3, podAntiAffinitySpec([]corev1.PodAffinityTerm{byOtherName})), want: notSelf("3")},
		{name: "a namespaceSelector naming the own namespace selects the own pods",
			obj: deploymentWith(3, podAntiAffinitySpec([]corev1.PodAffinityTerm{byName}))},
		{name: "a namespaceSelector on labels the request does not show may select the own pods",
			obj: deploymentWith(3, podAntiAffinitySpec([]corev1.PodAffinityTerm{byTeam}))},
		{name: "a term using matchLabelKeys whose selector matches selects the own pods",
			obj: deploymentWith(3, podAntiAffinitySpec([]corev1.PodAffinityTerm{matchKeys}))},
		{name: "a term with mismatchLabelKeys keeps other groups away on purpose",
			obj: deploymentWith(3, podAntiAffinitySpec([]corev1.PodAffinityTerm{tenants}))},
		{name: "a NotIn expression on the own app label excludes the own pods",
			obj: deploymentWith(3, podAntiAffinitySpec(nil, notWeb)), want: notSelf("3")},
		{name: "terms without a labelSelector are left to pod-affinity-empty-selector",
			obj: deploymentWith(3, podAntiAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(nil, host)}))},
		{name: "pod affinity to another app is not anti-affinity",
			obj: deploymentWith(3, podAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(podAffinitySelector("app", "db"), host)}))},
		{name: "a DaemonSet is not replicated",
			obj: podAffinityDaemonSet(podAffinitySelfAnti("db", host))},
	}
	runCheckCases(t, checkPodAntiAffinityNotSelf, cases)
}

func TestCheckDaemonSetPodAntiAffinity(t *testing.T) {
	const hostDetail = "a DaemonSet already runs one pod per node, so required anti-affinity against its own pods only blocks surge rollouts; remove the term"
	host := corev1.LabelHostname
	cases := []checkCase{
		{name: "required anti-affinity against its own pods on the hostname blocks surge rollouts",
			obj:  podAffinityDaemonSet(podAffinitySelfAnti("agent", host)),
			want: field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(0), hostDetail)}},
		{name: "required anti-affinity against its own pods on the zone leaves all but one pod per zone Pending",
			obj: podAffinityDaemonSet(podAntiAffinitySpec([]corev1.PodAffinityTerm{
				podAffinityTerm(podAffinitySelector("app", "db"), host),
				podAffinityTerm(podAffinitySelector("app", "agent"), corev1.LabelTopologyZone)})),
			want: field.ErrorList{field.Forbidden(podAntiAffinityReq.Index(1),
				"required anti-affinity against the DaemonSet's own pods leaves all but one pod per topology.kubernetes.io/zone value Pending; remove the term")}},
		{name: "preferred anti-affinity against its own pods is not reported",
			obj: podAffinityDaemonSet(podAntiAffinitySpec(nil, podAffinityTerm(podAffinitySelector("app", "agent"), host)))},
		{name: "required anti-affinity against other pods is fine",
			obj: podAffinityDaemonSet(podAffinitySelfAnti("db", host))},
		{name: "required self anti-affinity of a Deployment is not a DaemonSet's",
			obj: deploymentWith(3, podAffinitySelfAnti("web", host))},
	}
	runCheckCases(t, checkDaemonSetPodAntiAffinity, cases)
}

func TestCheckMatchLabelKeysAbsent(t *testing.T) {
	detail := func(hint string) string {
		d := "the pods will not carry this label, so the key is ignored; use a key of the pod template labels"
		if hint != "" {
			d += " or one the controller adds, such as " + hint
		}
		return d
	}
	host := corev1.LabelHostname
	keyed := func(app string, match, mismatch []string) corev1.PodAffinityTerm {
		term := podAffinityTerm(podAffinitySelector("app", app), host)
		term.MatchLabelKeys, term.MismatchLabelKeys = match, mismatch
		return term
	}
	antiKeys := func(keys ...string) corev1.PodSpec {
		return podAntiAffinitySpec([]corev1.PodAffinityTerm{keyed("x", keys, nil)})
	}
	spread := func(keys ...string) corev1.PodSpec {
		return corev1.PodSpec{TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: host, WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: podAffinitySelector("app", "web")},
			{MaxSkew: 1, TopologyKey: host, WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: podAffinitySelector("app", "web"), MatchLabelKeys: keys},
		}}
	}
	noSelector := podAffinityTerm(nil, host)
	noSelector.MatchLabelKeys = []string{"missing"}
	cronJob := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "apps"},
		Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: podAffinityJob(batchv1.NonIndexedCompletion, antiKeys("job-name", "pod-template-hash")).Spec}}}
	cases := []checkCase{
		{name: "a Deployment's pod-template-hash and template labels are present",
			obj: deploymentWith(3, antiKeys("pod-template-hash", "app"))},
		{name: "a typo in a Deployment's matchLabelKeys is reported at the entry",
			obj:  deploymentWith(3, antiKeys("pod-template-hash", "pod-template-hsah")),
			want: field.ErrorList{field.Invalid(podAntiAffinityReq.Index(0).Child("matchLabelKeys").Index(1), "pod-template-hsah", detail("pod-template-hash"))}},
		{name: "mismatchLabelKeys of a preferred pod affinity term naming an absent label is reported",
			obj:  deploymentWith(3, podAffinitySpec(nil, keyed("db", nil, []string{"tenant"}))),
			want: field.ErrorList{field.Invalid(podAffinityPref.Index(0).Child("podAffinityTerm", "mismatchLabelKeys").Index(0), "tenant", detail("pod-template-hash"))}},
		{name: "topologySpreadConstraints matchLabelKeys naming an absent label is reported",
			obj:  deploymentWith(3, spread("pod-template-hash", "version")),
			want: field.ErrorList{field.Invalid(podAffinityTmplSpec.Child("topologySpreadConstraints").Index(1).Child("matchLabelKeys").Index(1), "version", detail("pod-template-hash"))}},
		{name: "a StatefulSet's controller labels are present",
			obj: podAffinityStatefulSet(3, antiKeys("controller-revision-hash", "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index"))},
		{name: "a StatefulSet's pods have no pod-template-hash",
			obj:  podAffinityStatefulSet(3, antiKeys("pod-template-hash")),
			want: field.ErrorList{field.Invalid(podAntiAffinityReq.Index(0).Child("matchLabelKeys").Index(0), "pod-template-hash", detail("controller-revision-hash"))}},
		{name: "a DaemonSet's controller labels are present",
			obj: podAffinityDaemonSet(antiKeys("controller-revision-hash", "pod-template-generation"))},
		{name: "a Job's controller labels are present",
			obj: podAffinityJob(batchv1.NonIndexedCompletion, antiKeys("batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name", "controller-uid", "job-name"))},
		{name: "an Indexed Job's pods carry the completion index",
			obj: podAffinityJob(batchv1.IndexedCompletion, antiKeys("batch.kubernetes.io/job-completion-index"))},
		{name: "a NonIndexed Job's pods carry no completion index",
			obj:  podAffinityJob(batchv1.NonIndexedCompletion, antiKeys("batch.kubernetes.io/job-completion-index")),
			want: field.ErrorList{field.Invalid(podAntiAffinityReq.Index(0).Child("matchLabelKeys").Index(0), "batch.kubernetes.io/job-completion-index", detail("batch.kubernetes.io/controller-uid"))}},
		{name: "a CronJob's pods carry the Job labels but not pod-template-hash",
			obj: cronJob,
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "jobTemplate", "spec", "template", "spec", "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution").Index(0).Child("matchLabelKeys").Index(1),
				"pod-template-hash", detail("batch.kubernetes.io/controller-uid"))}},
		{name: "a bare Pod has only its own labels",
			obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "apps", Labels: map[string]string{"app": "p"}}, Spec: antiKeys("app", "pod-template-hash")},
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution").Index(0).Child("matchLabelKeys").Index(1),
				"pod-template-hash", detail(""))}},
		{name: "terms without a labelSelector are left to affinity-invalid",
			obj: deploymentWith(3, podAntiAffinitySpec([]corev1.PodAffinityTerm{noSelector}))},
	}
	runCheckCases(t, checkMatchLabelKeysAbsent, cases)
}

func TestCheckTopologyKeyUnknown(t *testing.T) {
	const (
		noEffect = "no node has this label, so the term has no effect; use a label the nodes carry, such as topology.kubernetes.io/zone"
		pending  = "no node has this label, so no node satisfies the term and the pods stay Pending; use a label the nodes carry, such as topology.kubernetes.io/zone"
	)
	const rack = "example.com/rack"
	web := podAffinitySelector("app", "web")
	spreadSpec := corev1.PodSpec{TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
		{MaxSkew: 1, TopologyKey: rack, WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: web},
		{MaxSkew: 1, TopologyKey: rack, WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: web},
		{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: web},
	}}
	spreadPath := podAffinityTmplSpec.Child("topologySpreadConstraints")
	racked := append(podAffinityNodes(2, 2), nodeWith("r1", map[string]string{rack: "r1"}))
	cases := []checkCase{
		{name: "with no nodes nothing can be told",
			obj: deploymentWith(3, podAffinitySelfAnti("web", rack))},
		{name: "keys the nodes carry are fine",
			obj:   deploymentWith(3, podAntiAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(web, corev1.LabelHostname)}, podAffinityTerm(web, corev1.LabelTopologyZone))),
			nodes: podAffinityNodes(3, 3)},
		{name: "a key that only one node carries is known",
			obj: deploymentWith(3, podAffinitySelfAnti("web", rack)), nodes: racked},
		{name: "required anti-affinity on a key no node carries has no effect",
			obj: deploymentWith(3, podAffinitySelfAnti("web", rack)), nodes: podAffinityNodes(3, 3),
			want: field.ErrorList{field.Invalid(podAntiAffinityReq.Index(0).Child("topologyKey"), rack, noEffect)}},
		{name: "required pod affinity on a key no node carries leaves the pods Pending, preferred has no effect",
			obj: deploymentWith(3, podAffinitySpec([]corev1.PodAffinityTerm{podAffinityTerm(web, rack)}, podAffinityTerm(web, rack))), nodes: podAffinityNodes(3, 3),
			want: field.ErrorList{
				field.Invalid(podAffinityReq.Index(0).Child("topologyKey"), rack, pending),
				field.Invalid(podAffinityPref.Index(0).Child("podAffinityTerm", "topologyKey"), rack, noEffect),
			}},
		{name: "topologySpreadConstraints on a key no node carries block DoNotSchedule and do nothing for ScheduleAnyway",
			obj: deploymentWith(3, spreadSpec), nodes: podAffinityNodes(3, 3),
			want: field.ErrorList{
				field.Invalid(spreadPath.Index(0).Child("topologyKey"), rack, "no node has this label, so no node passes the constraint and the pods stay Pending; use a label the nodes carry, such as topology.kubernetes.io/zone"),
				field.Invalid(spreadPath.Index(1).Child("topologyKey"), rack, "no node has this label, so the constraint has no effect; use a label the nodes carry, such as topology.kubernetes.io/zone"),
			}},
	}
	runCheckCases(t, checkTopologyKeyUnknown, cases)
}
