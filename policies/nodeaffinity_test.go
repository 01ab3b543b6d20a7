package policies

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	naNodeAffinity = "spec.template.spec.affinity.nodeAffinity"
	naRequired     = naNodeAffinity + ".requiredDuringSchedulingIgnoredDuringExecution"
	naTerms        = naRequired + ".nodeSelectorTerms"
	naPreferred    = naNodeAffinity + ".preferredDuringSchedulingIgnoredDuringExecution"
	naSelector     = "spec.template.spec.nodeSelector"
	naCronJobTerms = "spec.jobTemplate.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"

	naNoNode = "so no node matches this term"
)

// naTerm returns a term of matchExpressions.
func naTerm(reqs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: reqs}
}

// naAffinity returns an affinity with the given required node selector terms.
func naAffinity(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
	}}
}

// naPreferredAffinity returns an affinity with preferred terms of weight 1.
func naPreferredAffinity(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	na := &corev1.NodeAffinity{}
	for _, term := range terms {
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.PreferredSchedulingTerm{Weight: 1, Preference: term})
	}
	return &corev1.Affinity{NodeAffinity: na}
}

func naDeployment(nodeSelector map[string]string, affinity *corev1.Affinity) runtime.Object {
	return deploymentWith(2, corev1.PodSpec{NodeSelector: nodeSelector, Affinity: affinity})
}

func naCronJob(nodeSelector map[string]string, affinity *corev1.Affinity) runtime.Object {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "backup", Namespace: "apps"}}
	cj.Spec.JobTemplate.Spec.Template.Spec = corev1.PodSpec{NodeSelector: nodeSelector, Affinity: affinity}
	return cj
}

func naInvalid(path string, value any, detail string) *field.Error {
	return &field.Error{Type: field.ErrorTypeInvalid, Field: path, BadValue: value, Detail: detail}
}

func TestNodeAffinityUnsatisfiable(t *testing.T) {
	const zone = "topology.kubernetes.io/zone"
	emptyTermDetail := "an empty nodeSelectorTerm matches no node: add matchExpressions or matchFields, or remove the term"
	notInDetail := "NotIn excludes every value that In allows for this label, " + naNoNode + ": remove the contradicting values"
	tests := []struct {
		name       string
		obj        runtime.Object
		wantCheck  field.ErrorList
		wantAdvise field.ErrorList
	}{
		{
			name:      "In [a] and NotIn [a] on one key deny at the NotIn requirement",
			obj:       naDeployment(nil, naAffinity(naTerm(nodeReq(zone, "In", "a"), nodeReq(zone, "NotIn", "a")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[1]", zone+" NotIn [a]", notInDetail)},
		},
		{
			name:      "NotIn covering every value of an In list is unsatisfiable",
			obj:       naDeployment(nil, naAffinity(naTerm(nodeReq(zone, "NotIn", "b", "a"), nodeReq("disk", "Exists"), nodeReq(zone, "In", "a", "b")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[2]", zone+" In [a b]", notInDetail)},
		},
		{
			name: "two In lists with no common value are unsatisfiable",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq(zone, "In", "a", "b"), nodeReq(zone, "In", "c")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[1]", zone+" In [c]",
				"the In lists on this label have no value in common, "+naNoNode+": keep a single In list")},
		},
		{
			name: "Exists and DoesNotExist on one key are unsatisfiable",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gpu", "Exists"), nodeReq("gpu", "DoesNotExist")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[1]", "gpu DoesNotExist",
				"this label must both exist and not exist, "+naNoNode+": remove one of the requirements")},
		},
		{
			name: "DoesNotExist before In on one key is reported at the In",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gpu", "DoesNotExist"), nodeReq("gpu", "In", "a100")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[1]", "gpu In [a100]",
				"this label must both exist and not exist, "+naNoNode+": remove one of the requirements")},
		},
		{
			name: "Gt with DoesNotExist on one key is unsatisfiable",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Gt", "3"), nodeReq("gen", "DoesNotExist")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[1]", "gen DoesNotExist",
				"this label must both exist and not exist, "+naNoNode+": remove one of the requirements")},
		},
		{
			name: "Lt with DoesNotExist on one key is unsatisfiable",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "DoesNotExist"), nodeReq("gen", "Lt", "3")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[1]", "gen Lt [3]",
				"this label must both exist and not exist, "+naNoNode+": remove one of the requirements")},
		},
		{
			name: "a Gt value that is not an integer never matches",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Gt", "v3")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[0]", "gen Gt [v3]",
				`Gt compares label values as integers and "v3" is not one, `+naNoNode+": use a base-10 integer")},
		},
		{
			name: "an Lt value that is not an integer never matches",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Lt", "1.5")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[0]", "gen Lt [1.5]",
				`Lt compares label values as integers and "1.5" is not one, `+naNoNode+": use a base-10 integer")},
		},
		{
			name: "Gt 5 and Lt 6 leave no integer",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Gt", "5"), nodeReq("gen", "Lt", "6")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[1]", "gen Lt [6]",
				`no integer is greater than 5 and less than 6, `+naNoNode+": widen the Gt/Lt range")},
		},
		{
			name: "Gt the largest int64 leaves no integer",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Gt", "9223372036854775807")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[0]", "gen Gt [9223372036854775807]",
				`no integer is greater than 9223372036854775807, `+naNoNode+": widen the Gt/Lt range")},
		},
		{
			name: "an In value that is not an integer combined with Gt is unsatisfiable",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "In", "new"), nodeReq("gen", "Gt", "5")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[1]", "gen Gt [5]",
				`no In value of this label is an integer greater than 5, `+naNoNode+": fix the values or the range")},
		},
		{
			name: "In integers all outside the Gt and Lt range are unsatisfiable",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Gt", "2"), nodeReq("gen", "Lt", "5"), nodeReq("gen", "In", "1", "5", "x")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[2]", "gen In [1 5 x]",
				`no In value of this label is an integer greater than 2 and less than 5, `+naNoNode+": fix the values or the range")},
		},
		{
			name: "matchFields In and NotIn on the same node name are unsatisfiable",
			obj: naDeployment(nil, naAffinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				nodeReq("metadata.name", "In", "node-1"), nodeReq("metadata.name", "NotIn", "node-1")}})),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchFields[1]", "metadata.name NotIn [node-1]",
				"NotIn excludes every value that In allows for this field, "+naNoNode+": remove the contradicting values")},
		},
		{
			name:      "an empty term matches no node",
			obj:       naDeployment(nil, naAffinity(corev1.NodeSelectorTerm{})),
			wantCheck: field.ErrorList{field.Required(field.NewPath("spec", "template", "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms").Index(0), emptyTermDetail)},
		},
		{
			name: "two unsatisfiable terms deny with one error per term",
			obj: naDeployment(nil, naAffinity(
				naTerm(nodeReq(zone, "In", "a"), nodeReq(zone, "NotIn", "a")),
				naTerm(nodeReq("gpu", "Exists"), nodeReq("gpu", "DoesNotExist")))),
			wantCheck: field.ErrorList{
				naInvalid(naTerms+"[0].matchExpressions[1]", zone+" NotIn [a]", notInDetail),
				naInvalid(naTerms+"[1].matchExpressions[1]", "gpu DoesNotExist", "this label must both exist and not exist, "+naNoNode+": remove one of the requirements"),
			},
		},
		{
			name:      "a CronJob reports under its job template",
			obj:       naCronJob(nil, naAffinity(naTerm(nodeReq(zone, "In", "a"), nodeReq(zone, "NotIn", "a")))),
			wantCheck: field.ErrorList{naInvalid(naCronJobTerms+"[0].matchExpressions[1]", zone+" NotIn [a]", notInDetail)},
		},
		{
			name: "one of two terms unsatisfiable is only advised",
			obj: naDeployment(nil, naAffinity(
				naTerm(nodeReq(zone, "In", "a")),
				naTerm(nodeReq(zone, "In", "a"), nodeReq(zone, "NotIn", "a")))),
			wantAdvise: field.ErrorList{naInvalid(naTerms+"[1].matchExpressions[1]", zone+" NotIn [a]", notInDetail)},
		},
		{
			name: "an unsatisfiable preferred term is advised",
			obj:  naDeployment(nil, naPreferredAffinity(naTerm(nodeReq("disk", "In", "ssd")), naTerm(nodeReq("disk", "In", "ssd"), nodeReq("disk", "In", "hdd")))),
			wantAdvise: field.ErrorList{naInvalid(naPreferred+"[1].preference.matchExpressions[1]", "disk In [hdd]",
				"the In lists on this label have no value in common, "+naNoNode+": keep a single In list")},
		},
		{
			name:       "an empty preferred term is advised",
			obj:        naDeployment(nil, naPreferredAffinity(corev1.NodeSelectorTerm{})),
			wantAdvise: field.ErrorList{field.Required(field.NewPath("spec", "template", "spec", "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution").Index(0).Child("preference"), emptyTermDetail)},
		},
		// Found by test/fidelity: label values cannot be negative integers.
		{
			name: "Lt 0 leaves no label value, as label values cannot be negative",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Lt", "0")))),
			wantCheck: field.ErrorList{naInvalid(naTerms+"[0].matchExpressions[0]", "gen Lt [0]",
				"label values cannot be negative integers, so none is less than 0, "+naNoNode+": use a positive bound")},
		},
		{
			name: "Gt -5 and Lt 0 leave no label value, although the integers -4 to -1 lie between",
			obj:  naDeployment(nil, naPreferredAffinity(naTerm(nodeReq("gen", "Gt", "-5"), nodeReq("gen", "Lt", "0")))),
			wantAdvise: field.ErrorList{naInvalid(naPreferred+"[0].preference.matchExpressions[0]", "gen Gt [-5]",
				`"-5" is not a valid label value, so the scheduler cannot parse this requirement and no node matches this term: fix the value`)},
		},
		// Found by test/fidelity: preferred terms accept invalid label
		// values, which the scheduler's labels.NewRequirement rejects.
		{
			name: "a preferred NotIn with a value that is not a valid label value never matches",
			obj:  naDeployment(nil, naPreferredAffinity(naTerm(nodeReq("gpu", "Exists"), nodeReq("gpu", "NotIn", "k80", "+3")))),
			wantAdvise: field.ErrorList{naInvalid(naPreferred+"[0].preference.matchExpressions[1]", "gpu NotIn [k80 +3]",
				`"+3" is not a valid label value, so the scheduler cannot parse this requirement and no node matches this term: fix the value`)},
		},
		{
			name: "a preferred Lt with a negative integer never matches",
			obj:  naDeployment(nil, naPreferredAffinity(naTerm(nodeReq("gen", "Lt", "-1")))),
			wantAdvise: field.ErrorList{naInvalid(naPreferred+"[0].preference.matchExpressions[0]", "gen Lt [-1]",
				`"-1" is not a valid label value, so the scheduler cannot parse this requirement and no node matches this term: fix the value`)},
		},
		{
			name: "an invalid label value in a required term is affinity-invalid's finding, not a contradiction",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gpu", "In", "-a")))),
		},
		{name: "Lt 1 leaves 0", obj: naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Lt", "1"))))},
		{
			name: "Lt 1 and NotIn [0] leave 00, another spelling of zero",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Lt", "1"), nodeReq("gen", "NotIn", "0")))),
		},
		{name: "Gt with an integer value is satisfiable", obj: naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Gt", "3"))))},
		{name: "In [a b] and NotIn [a] are satisfiable", obj: naDeployment(nil, naAffinity(naTerm(nodeReq(zone, "In", "a", "b"), nodeReq(zone, "NotIn", "a"))))},
		{name: "Gt 5 and Lt 7 leave 6", obj: naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "Gt", "5"), nodeReq("gen", "Lt", "7"))))},
		{name: "an In list with one integer in the Gt range is satisfiable", obj: naDeployment(nil, naAffinity(naTerm(nodeReq("gen", "In", "new", "7"), nodeReq("gen", "Gt", "5"))))},
		{name: "Exists with NotIn is satisfiable", obj: naDeployment(nil, naAffinity(naTerm(nodeReq("gpu", "Exists"), nodeReq("gpu", "NotIn", "k80"))))},
		{name: "DoesNotExist with NotIn is satisfiable", obj: naDeployment(nil, naAffinity(naTerm(nodeReq("gpu", "DoesNotExist"), nodeReq("gpu", "NotIn", "k80"))))},
		{name: "In and NotIn on different keys are satisfiable", obj: naDeployment(nil, naAffinity(naTerm(nodeReq("a", "In", "x"), nodeReq("b", "NotIn", "x"))))},
		{
			name: "a metadata.name label and the metadata.name field are different keys",
			obj: naDeployment(nil, naAffinity(corev1.NodeSelectorTerm{
				MatchExpressions: []corev1.NodeSelectorRequirement{nodeReq("metadata.name", "In", "node-1")},
				MatchFields:      []corev1.NodeSelectorRequirement{nodeReq("metadata.name", "NotIn", "node-1")},
			})),
		},
		{
			name: "In without values is affinity-invalid's finding, not a contradiction",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gpu", "In"), nodeReq("gpu", "DoesNotExist")))),
		},
		{
			name: "an unknown operator is affinity-invalid's finding, not a contradiction",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq("gpu", "Equals", "a"), nodeReq("gpu", "DoesNotExist")))),
		},
		{name: "no affinity reports nothing", obj: naDeployment(nil, nil)},
		{name: "no required terms reports nothing", obj: naDeployment(nil, &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := inputFor(t, tt.obj)
			assertErrors(t, checkNodeAffinityUnsatisfiable(in), tt.wantCheck)
			assertErrors(t, adviseNodeAffinityTermsUnsatisfiable(in), tt.wantAdvise)
		})
	}
}

func TestNodeAffinityConflictsNodeSelector(t *testing.T) {
	const zone = "topology.kubernetes.io/zone"
	conflict := func(terms string) string {
		return "contradicts required node affinity " + terms + ", and no satisfiable term agrees with the nodeSelector, so no node can match: make them agree"
	}
	tests := []checkCase{
		{
			name: "a nodeSelector value outside the only term's In list is reported at its key",
			obj:  naDeployment(map[string]string{zone: "b"}, naAffinity(naTerm(nodeReq(zone, "In", "a")))),
			want: field.ErrorList{naInvalid(naSelector+"[topology.kubernetes.io/zone]", "b", conflict("nodeSelectorTerms[0]"))},
		},
		{
			name: "a nodeSelector key the term requires to be absent conflicts",
			obj:  naDeployment(map[string]string{"gpu": "a100"}, naAffinity(naTerm(nodeReq("gpu", "DoesNotExist")))),
			want: field.ErrorList{naInvalid(naSelector+"[gpu]", "a100", conflict("nodeSelectorTerms[0]"))},
		},
		{
			name: "a non-integer nodeSelector value conflicts with Gt",
			obj:  naDeployment(map[string]string{"gen": "new"}, naAffinity(naTerm(nodeReq("gen", "Gt", "3")))),
			want: field.ErrorList{naInvalid(naSelector+"[gen]", "new", conflict("nodeSelectorTerms[0]"))},
		},
		{
			name: "two terms contradicted by the same key give one error naming both",
			obj:  naDeployment(map[string]string{zone: "c"}, naAffinity(naTerm(nodeReq(zone, "In", "a")), naTerm(nodeReq(zone, "NotIn", "c")))),
			want: field.ErrorList{naInvalid(naSelector+"[topology.kubernetes.io/zone]", "c", conflict("nodeSelectorTerms[0], nodeSelectorTerms[1]"))},
		},
		{
			name: "two terms contradicted by different keys give one error per key",
			obj: naDeployment(map[string]string{zone: "c", "disk": "hdd"},
				naAffinity(naTerm(nodeReq(zone, "In", "a")), naTerm(nodeReq("disk", "In", "ssd")))),
			want: field.ErrorList{
				naInvalid(naSelector+"[disk]", "hdd", conflict("nodeSelectorTerms[1]")),
				naInvalid(naSelector+"[topology.kubernetes.io/zone]", "c", conflict("nodeSelectorTerms[0]")),
			},
		},
		{
			name: "an unsatisfiable term is left out and the other term still conflicts",
			obj: naDeployment(map[string]string{zone: "c"}, naAffinity(
				naTerm(nodeReq("gpu", "Exists"), nodeReq("gpu", "DoesNotExist")), naTerm(nodeReq(zone, "In", "a")))),
			want: field.ErrorList{naInvalid(naSelector+"[topology.kubernetes.io/zone]", "c", conflict("nodeSelectorTerms[1]"))},
		},
		{
			name: "a CronJob reports under its job template",
			obj:  naCronJob(map[string]string{zone: "b"}, naAffinity(naTerm(nodeReq(zone, "In", "a")))),
			want: field.ErrorList{naInvalid("spec.jobTemplate.spec.template.spec.nodeSelector[topology.kubernetes.io/zone]", "b", conflict("nodeSelectorTerms[0]"))},
		},
		{
			name: "a nodeSelector agreeing with one of two terms is fine",
			obj:  naDeployment(map[string]string{zone: "b"}, naAffinity(naTerm(nodeReq(zone, "In", "a")), naTerm(nodeReq(zone, "In", "b", "c")))),
		},
		{
			name: "a nodeSelector on another key is fine",
			obj:  naDeployment(map[string]string{"disk": "ssd"}, naAffinity(naTerm(nodeReq(zone, "In", "a")))),
		},
		{
			name: "a nodeSelector value outside a NotIn list is fine",
			obj:  naDeployment(map[string]string{zone: "b"}, naAffinity(naTerm(nodeReq(zone, "NotIn", "a")))),
		},
		{
			name: "terms all unsatisfiable on their own are node-affinity-unsatisfiable's finding",
			obj:  naDeployment(map[string]string{zone: "b"}, naAffinity(naTerm(nodeReq(zone, "In", "a"), nodeReq(zone, "NotIn", "a")))),
		},
		{
			name: "a nodeSelector without required terms is fine",
			obj:  naDeployment(map[string]string{zone: "b"}, naPreferredAffinity(naTerm(nodeReq(zone, "In", "a")))),
		},
		{
			name: "required terms without a nodeSelector are fine",
			obj:  naDeployment(nil, naAffinity(naTerm(nodeReq(zone, "In", "a")))),
		},
	}
	runCheckCases(t, checkNodeAffinityConflictsNodeSelector, tests)
}

func TestNodeAffinityEngineActions(t *testing.T) {
	const zone = "topology.kubernetes.io/zone"
	contradiction := naTerm(nodeReq(zone, "In", "a"), nodeReq(zone, "NotIn", "a"))
	view := engineView{nodes: []*corev1.Node{nodeWith("node-a", map[string]string{zone: "a"})}}
	tests := []struct {
		name       string
		affinity   *corev1.Affinity
		wantAction map[string]Action // field path -> action
	}{
		{
			name:       "a Deployment whose only required term is unsatisfiable is denied",
			affinity:   naAffinity(contradiction),
			wantAction: map[string]Action{naTerms + "[0].matchExpressions[1]": ActionDeny},
		},
		{
			name:       "a Deployment with one unsatisfiable term out of two is warned",
			affinity:   naAffinity(naTerm(nodeReq(zone, "In", "a")), contradiction),
			wantAction: map[string]Action{naTerms + "[1].matchExpressions[1]": ActionWarn},
		},
		{
			name: "a Deployment with an unsatisfiable preferred term is warned",
			affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 10, Preference: contradiction}},
			}},
			wantAction: map[string]Action{naPreferred + "[0].preference.matchExpressions[1]": ActionWarn},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := NewEngine(nil).Evaluate(t.Context(), Request{Object: naDeployment(nil, tt.affinity), View: view})
			got := map[string]Action{}
			for _, f := range report.Findings {
				switch f.Rule {
				case RuleNodeAffinityUnsatisfiable:
					got[f.Err.Field] = f.Action
				case RuleNodeAffinityNoMatchingNodes, RuleNodeAffinityConflictsSelector:
					t.Errorf("unexpected %s finding: %s", f.Rule, f.Message())
				}
			}
			if len(got) != len(tt.wantAction) {
				t.Fatalf("got %s findings %v, want %v", RuleNodeAffinityUnsatisfiable, got, tt.wantAction)
			}
			for path, want := range tt.wantAction {
				if got[path] != want {
					t.Errorf("finding at %s: action %q, want %q", path, got[path], want)
				}
			}
		})
	}
}
