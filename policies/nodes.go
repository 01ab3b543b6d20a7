package policies

import (
	"fmt"
	"slices"
	"strings"

	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	corev1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// The nodes that take a workload's pods: the cluster-aware placement rules
// count them as the scheduler's NodeAffinity, NodeUnschedulable and
// TaintToleration filters do.

// eligibleNodes returns the nodes the scheduler may place the pods on: they
// match the nodeSelector and required node affinity, and every NoSchedule or
// NoExecute taint is tolerated. A cordoned node counts as tainted with
// node.kubernetes.io/unschedulable:NoSchedule, as the NodeUnschedulable
// plugin reads it.
func eligibleNodes(spec *corev1.PodSpec, nodes []*corev1.Node) []*corev1.Node {
	var eligible []*corev1.Node
	placement := nodeaffinity.NewRequiredNodeAffinity(spec.NodeSelector, spec.Affinity)
	for _, node := range nodes {
		if ok, _ := placement.Match(node); !ok {
			continue
		}
		if _, untolerated := untoleratedTaint(spec.Tolerations, node); !untolerated {
			eligible = append(eligible, node)
		}
	}
	return eligible
}

// untoleratedTaint returns the first taint of node that keeps pods with
// these tolerations from being scheduled there, as the TaintToleration
// plugin reads them (the Gt and Lt toleration operators are alpha and off by
// default). A cordoned node counts as tainted with
// node.kubernetes.io/unschedulable:NoSchedule, as the NodeUnschedulable
// plugin reads it. The taints of a node's condition are not counted
// (conditionTaints).
func untoleratedTaint(tolerations []corev1.Toleration, node *corev1.Node) (corev1.Taint, bool) {
	taints := node.Spec.Taints
	if node.Spec.Unschedulable {
		taints = append(slices.Clone(taints), corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	return corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), taints, tolerations, func(t *corev1.Taint) bool {
		return (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !conditionTaints.Has(t.Key)
	}, false)
}

// conditionTaints are the taints the node lifecycle controller sets while a
// node is not ready, unreachable or under pressure, and lifts when the
// condition clears (kube-apiserver's TaintNodesByCondition plugin puts
// not-ready on every new Node; the cloud controller, uninitialized). They
// describe a node's state now, not where the pods may go, so the placement
// rules do not count a node out for them: a node that is briefly not ready
// does not make a workload unschedulable.
var conditionTaints = sets.New(
	corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeMemoryPressure, corev1.TaintNodeDiskPressure,
	corev1.TaintNodePIDPressure, corev1.TaintNodeNetworkUnavailable, "node.cloudprovider.kubernetes.io/uninitialized")

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
