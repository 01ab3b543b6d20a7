package policies

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestNodeAffinityNoMatchingNodes(t *testing.T) {
	const zone = "topology.kubernetes.io/zone"
	nodes := []*corev1.Node{
		nodeWith("node-a", map[string]string{zone: "a", "disk": "ssd"}),
		nodeWith("node-b", map[string]string{zone: "b", "disk": "hdd"}),
	}
	tests := []checkCase{
		{
			name:  "a nodeSelector no node carries is reported at the nodeSelector",
			obj:   naDeployment(map[string]string{"disk": "nvme"}, nil),
			nodes: nodes,
			want: field.ErrorList{naInvalid(naSelector, map[string]string{"disk": "nvme"},
				"the nodeSelector matches none of the cluster's 2 nodes, so the pods stay Pending: check the labels with kubectl get nodes --show-labels")},
		},
		{
			name:  "required affinity no node satisfies is reported at the affinity",
			obj:   naDeployment(nil, naAffinity(naTerm(nodeReq(zone, "In", "c")), naTerm(nodeReq("disk", "In", "nvme")))),
			nodes: nodes,
			want: field.ErrorList{naInvalid(naRequired, field.OmitValueType{},
				"the required node affinity matches none of the cluster's 2 nodes, so the pods stay Pending: check the labels with kubectl get nodes --show-labels")},
		},
		{
			name:  "a nodeSelector and affinity that each match a different node are reported together",
			obj:   naDeployment(map[string]string{"disk": "ssd"}, naAffinity(naTerm(nodeReq(zone, "In", "b")))),
			nodes: nodes,
			want: field.ErrorList{naInvalid(naSelector, map[string]string{"disk": "ssd"},
				"the nodeSelector together with the required node affinity matches none of the cluster's 2 nodes, so the pods stay Pending: check the labels with kubectl get nodes --show-labels")},
		},
		{
			name: "a nodeSelector in a cluster without nodes is reported",
			obj:  naDeployment(map[string]string{"disk": "ssd"}, nil),
			want: field.ErrorList{naInvalid(naSelector, map[string]string{"disk": "ssd"},
				"the nodeSelector cannot match any node because the cluster has none, so the pods stay Pending until a matching node joins")},
		},
		{
			name:  "a CronJob reports under its job template",
			obj:   naCronJob(map[string]string{"disk": "nvme"}, nil),
			nodes: nodes,
			want: field.ErrorList{naInvalid("spec.jobTemplate.spec.template.spec.nodeSelector", map[string]string{"disk": "nvme"},
				"the nodeSelector matches none of the cluster's 2 nodes, so the pods stay Pending: check the labels with kubectl get nodes --show-labels")},
		},
		{
			name:  "a node matching via the second term is enough",
			obj:   naDeployment(map[string]string{"disk": "hdd"}, naAffinity(naTerm(nodeReq(zone, "In", "c")), naTerm(nodeReq(zone, "In", "b")))),
			nodes: nodes,
		},
		{
			name:  "matchFields naming an existing node matches",
			obj:   naDeployment(nil, naAffinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{nodeReq("metadata.name", "In", "node-b")}})),
			nodes: nodes,
		},
		{name: "no nodeSelector and no required affinity in an empty cluster is fine", obj: naDeployment(nil, nil)},
		{
			name:  "only preferred affinity is fine even when no node matches it",
			obj:   naDeployment(nil, naPreferredAffinity(naTerm(nodeReq(zone, "In", "c")))),
			nodes: nodes,
		},
		{
			name:  "unsatisfiable required terms are node-affinity-unsatisfiable's finding",
			obj:   naDeployment(nil, naAffinity(naTerm(nodeReq(zone, "In", "a"), nodeReq(zone, "NotIn", "a")))),
			nodes: nodes,
		},
		{
			name:  "a nodeSelector contradicting the affinity is node-affinity-conflicts-node-selector's finding",
			obj:   naDeployment(map[string]string{zone: "b"}, naAffinity(naTerm(nodeReq(zone, "In", "a")))),
			nodes: nodes,
		},
		{
			name:  "a malformed requirement is affinity-invalid's finding",
			obj:   naDeployment(nil, naAffinity(naTerm(nodeReq(zone, "In")))),
			nodes: nodes,
		},
	}
	runCheckCases(t, checkNodeAffinityNoMatchingNodes, tests)
}

func TestNodeAffinityNoTolerableNode(t *testing.T) {
	const (
		zone        = "topology.kubernetes.io/zone"
		tolerations = "spec.template.spec.tolerations"
		fix         = "so they stay Pending: add a toleration for the taint, uncordon a node, or place the pods on other nodes"
	)
	dedicated := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	draining := corev1.Taint{Key: "draining", Effect: corev1.TaintEffectNoExecute}
	soft := corev1.Taint{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule}
	cordoned := func(n *corev1.Node) *corev1.Node { n.Spec.Unschedulable = true; return n }
	tolerating := func(obj runtime.Object, tolerations ...corev1.Toleration) runtime.Object {
		w, _ := NewWorkload(obj)
		w.PodSpec.Tolerations = tolerations
		return obj
	}
	bound := func(obj runtime.Object, node string) runtime.Object {
		w, _ := NewWorkload(obj)
		w.PodSpec.NodeName = node
		return obj
	}
	tolerateDedicated := corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule}
	ssd := map[string]string{"disk": "ssd"}
	tests := []checkCase{
		{
			name: "a nodeSelector that matches only a tainted node is reported at the tolerations",
			obj:  naDeployment(ssd, nil),
			nodes: []*corev1.Node{
				nodeWith("node-a", map[string]string{"disk": "ssd"}, dedicated),
				nodeWith("node-b", map[string]string{"disk": "hdd"}),
			},
			want: field.ErrorList{naInvalid(tolerations, field.OmitValueType{},
				"no node the nodeSelector matches takes the pods (node-a has the taint dedicated=db:NoSchedule), "+fix)},
		},
		{
			name: "matching nodes that are cordoned or have a NoExecute taint are each named",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq(zone, "In", "a")))),
			nodes: []*corev1.Node{
				cordoned(nodeWith("node-a", map[string]string{zone: "a"})),
				nodeWith("node-b", map[string]string{zone: "a"}, draining),
				nodeWith("node-c", map[string]string{zone: "b"}),
			},
			want: field.ErrorList{naInvalid(tolerations, field.OmitValueType{},
				"no node the required node affinity matches takes the pods (node-a is cordoned; node-b has the taint draining:NoExecute), "+fix)},
		},
		{
			name:  "a nodeSelector with required affinity names both",
			obj:   naDeployment(ssd, naAffinity(naTerm(nodeReq(zone, "In", "a")))),
			nodes: []*corev1.Node{nodeWith("node-a", map[string]string{"disk": "ssd", zone: "a"}, draining)},
			want: field.ErrorList{naInvalid(tolerations, field.OmitValueType{},
				"no node the nodeSelector and required node affinity match takes the pods (node-a has the taint draining:NoExecute), "+fix)},
		},
		{
			name: "pods without placement on a cluster whose every node is tainted are reported, naming three nodes",
			obj:  naDeployment(nil, nil),
			nodes: []*corev1.Node{
				nodeWith("node-a", nil, dedicated), nodeWith("node-b", nil, dedicated),
				nodeWith("node-c", nil, dedicated), nodeWith("node-d", nil, dedicated),
			},
			want: field.ErrorList{naInvalid(tolerations, field.OmitValueType{},
				"no node of the cluster takes the pods (node-a has the taint dedicated=db:NoSchedule; node-b has the taint dedicated=db:NoSchedule; node-c has the taint dedicated=db:NoSchedule; 1 more), "+fix)},
		},
		{
			name:  "a cordoned node with a taint of its own names the taint",
			obj:   naDeployment(nil, nil),
			nodes: []*corev1.Node{cordoned(nodeWith("node-a", nil, dedicated))},
			want: field.ErrorList{naInvalid(tolerations, field.OmitValueType{},
				"no node of the cluster takes the pods (node-a has the taint dedicated=db:NoSchedule), "+fix)},
		},
		{
			name:  "one tolerable matching node is enough",
			obj:   naDeployment(ssd, nil),
			nodes: []*corev1.Node{nodeWith("node-a", ssd, dedicated), nodeWith("node-b", ssd)},
		},
		{
			name:  "a toleration of the taint makes the node eligible",
			obj:   tolerating(naDeployment(ssd, nil), tolerateDedicated),
			nodes: []*corev1.Node{nodeWith("node-a", ssd, dedicated)},
		},
		{
			name:  "a toleration of the unschedulable taint makes a cordoned node eligible",
			obj:   tolerating(naDeployment(nil, nil), corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists}),
			nodes: []*corev1.Node{cordoned(nodeWith("node-a", nil))},
		},
		{
			name:  "a PreferNoSchedule taint does not keep pods away",
			obj:   naDeployment(ssd, nil),
			nodes: []*corev1.Node{nodeWith("node-a", ssd, soft)},
		},
		{
			name:  "a pod bound with nodeName skips the scheduler's taint filter",
			obj:   bound(naDeployment(ssd, nil), "node-a"),
			nodes: []*corev1.Node{nodeWith("node-a", ssd, dedicated)},
		},
		{
			name:  "a DaemonSet's pods tolerate cordoned nodes, as the DaemonSet controller adds that toleration",
			obj:   podAffinityDaemonSet(corev1.PodSpec{}),
			nodes: []*corev1.Node{cordoned(nodeWith("node-a", nil))},
		},
		{
			name:  "a DaemonSet's pods do not tolerate other taints",
			obj:   podAffinityDaemonSet(corev1.PodSpec{}),
			nodes: []*corev1.Node{nodeWith("node-a", nil, dedicated)},
			want: field.ErrorList{naInvalid(tolerations, field.OmitValueType{},
				"no node of the cluster takes the pods (node-a has the taint dedicated=db:NoSchedule), "+fix)},
		},
		{
			name: "the taints of a node's condition do not count it out",
			obj:  naDeployment(ssd, nil),
			nodes: []*corev1.Node{
				nodeWith("node-a", ssd, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}),
				nodeWith("node-b", ssd, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}),
				nodeWith("node-c", ssd, corev1.Taint{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule}),
				nodeWith("node-d", ssd, corev1.Taint{Key: "node.cloudprovider.kubernetes.io/uninitialized", Value: "true", Effect: corev1.TaintEffectNoSchedule}),
			},
		},
		{
			name:  "a node out of service is counted out",
			obj:   naDeployment(ssd, nil),
			nodes: []*corev1.Node{nodeWith("node-a", ssd, corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "shutdown", Effect: corev1.TaintEffectNoExecute})},
			want: field.ErrorList{naInvalid(tolerations, field.OmitValueType{},
				"no node the nodeSelector matches takes the pods (node-a has the taint node.kubernetes.io/out-of-service=shutdown:NoExecute), "+fix)},
		},
		{
			name:  "an empty cluster is reported only for pods with placement",
			obj:   naDeployment(nil, nil),
			nodes: nil,
		},
	}
	runCheckCases(t, checkNodeAffinityNoMatchingNodes, tests)
}

// TestNodeAffinityNoTolerableNodeSeesTheAgentMutation: an agent DaemonSet is
// judged with the control-plane tolerations the mutation gives it, unless the
// mutation is off or the DaemonSet is exempt from it.
func TestNodeAffinityNoTolerableNodeSeesTheAgentMutation(t *testing.T) {
	controlPlane := nodeWith("cp-1", map[string]string{cpKey: ""}, corev1.Taint{Key: cpKey, Effect: corev1.TaintEffectNoSchedule})
	view := engineView{nodes: []*corev1.Node{controlPlane}}
	exempt := agentDaemonSet()
	exempt.Annotations = map[string]string{ExemptAnnotation: RuleAgentTolerations, ExemptReasonAnnotation: "runs on workers only"}
	off := DefaultConfig()
	off.Rules = map[string]RuleConfig{RuleAgentTolerations: {Action: ActionOff}}
	tests := []struct {
		name   string
		config *Config
		obj    runtime.Object
		want   []string
	}{
		{name: "an agent DaemonSet counts the tolerations it will be given", obj: agentDaemonSet()},
		{name: "an agent DaemonSet exempt from the mutation does not", obj: exempt,
			want: []string{RuleNodeAffinityNoMatchingNodes + " Warn spec.template.spec.tolerations"}},
		{name: "an agent DaemonSet does not when the mutation is off", config: off, obj: agentDaemonSet(),
			want: []string{RuleNodeAffinityNoMatchingNodes + " Warn spec.template.spec.tolerations"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			report := NewEngine(tc.config).Evaluate(t.Context(), Request{Object: tc.obj, View: view})
			var got []string
			for _, f := range report.Findings {
				if f.Rule == RuleNodeAffinityNoMatchingNodes {
					got = append(got, fmt.Sprintf("%s %s %s", f.Rule, f.Action, f.Err.Field))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings differ (-want +got):\n%s", diff)
			}
		})
	}
}
