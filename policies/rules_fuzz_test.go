package policies

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/randfill"
)

// The structured fuzz targets turn the fuzzer's bytes into typed objects
// with randfill. Uniformly random strings would almost never name a
// control-plane taint, a well-known topology key or a Service the
// StatefulSet points at, so strings come mostly from a vocabulary of the
// values the rules compare against, and enums mostly from their valid
// values plus a bogus one. Only the fields the rules read are filled: the
// rest of a PodSpec would only slow every execution down.

// fuzzVocabulary holds the strings the rules treat specially.
var fuzzVocabulary = []string{
	"", "a", "app", "db", "web", "true", "false", "None", "data", "default",
	"kube-system", "setwarden-system", "node-0", "zone-a", "linux", "1", "0", "-1", "10",
	"9223372036854775808", "*", "a/b/c", "UPPER", "-bad-", "x.example.com/key",
	"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master",
	"kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
	"failure-domain.beta.kubernetes.io/zone", "beta.kubernetes.io/os", "kubernetes.io/os",
	"metadata.name", "pod-template-hash", "controller-revision-hash",
	DefaultAgentLabel, ExemptAnnotation, ExemptReasonAnnotation,
	RuleAgentTolerations + ", " + RuleStatefulSetServiceName, "unknown-rule",
	strings.Repeat("long-name-", 6),
}

// fuzzEnum returns a randfill function that picks one of vals, or now and
// then an arbitrary string.
func fuzzEnum[T ~string](vals ...T) func(*T, randfill.Continue) {
	return func(v *T, c randfill.Continue) {
		if c.Intn(8) == 0 {
			*v = T(fuzzString(c))
			return
		}
		*v = vals[c.Intn(len(vals))]
	}
}

func fuzzString(c randfill.Continue) string {
	if c.Intn(10) == 0 {
		return c.String(12)
	}
	return fuzzVocabulary[c.Intn(len(fuzzVocabulary))]
}

// fuzzInt mostly returns small values (replicas, weights, skews) and
// sometimes the extremes, where overflow hides.
func fuzzInt(c randfill.Continue) int64 {
	switch c.Intn(10) {
	case 0:
		return math.MaxInt32
	case 1:
		return math.MinInt32
	case 2:
		return int64(c.Uint64())
	}
	return int64(c.Intn(12)) - 2
}

// newRulesFiller returns a filler over the fuzzer's bytes.
func newRulesFiller(data []byte) *randfill.Filler {
	return randfill.NewFromGoFuzz(data).NilChance(.3).NumElements(0, 3).MaxDepth(24).Funcs(
		func(s *string, c randfill.Continue) { *s = fuzzString(c) },
		func(i *int32, c randfill.Continue) { *i = int32(fuzzInt(c)) },
		func(i *int64, c randfill.Continue) { *i = fuzzInt(c) },
		func(v *intstr.IntOrString, c randfill.Continue) {
			if c.Bool() {
				*v = intstr.FromInt32(int32(fuzzInt(c)))
				return
			}
			*v = intstr.FromString([]string{"0%", "25%", "100%", "250%", "-5%", "%", "abc", "3", "99999999999%"}[c.Intn(9)])
		},
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			c.Fill(&m.Name)
			c.Fill(&m.Namespace)
			c.Fill(&m.Labels)
			c.Fill(&m.Annotations)
		},
		func(ct *corev1.Container, c randfill.Continue) {
			c.Fill(&ct.Name)
			c.Fill(&ct.VolumeMounts)
		},
		func(m *corev1.VolumeMount, c randfill.Continue) { c.Fill(&m.Name) },
		func(p *corev1.PersistentVolumeClaim, c randfill.Continue) { c.Fill(&p.Name) },
		fuzzPodSpec,
		func(n *corev1.Node, c randfill.Continue) {
			c.Fill(&n.ObjectMeta)
			c.Fill(&n.Spec.Taints)
			c.Fill(&n.Spec.Unschedulable)
		},
		func(s *corev1.Service, c randfill.Continue) {
			c.Fill(&s.ObjectMeta)
			c.Fill(&s.Spec.Selector)
			c.Fill(&s.Spec.Type)
			s.Spec.ClusterIP = []string{"None", "", "10.0.0.1", fuzzString(c)}[c.Intn(4)]
		},
		func(t *metav1.Time, c randfill.Continue) {},
		fuzzEnum(corev1.TolerationOpExists, corev1.TolerationOpEqual, corev1.TolerationOpLt, corev1.TolerationOpGt, ""),
		fuzzEnum(corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute, ""),
		fuzzEnum(corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpExists,
			corev1.NodeSelectorOpDoesNotExist, corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt),
		fuzzEnum(metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist),
		fuzzEnum(corev1.DoNotSchedule, corev1.ScheduleAnyway),
		fuzzEnum(corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore),
		fuzzEnum(corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName),
		fuzzEnum(appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType),
		fuzzEnum(appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement),
		fuzzEnum(appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType),
	)
}

// fuzzPodSpec fills the pod spec fields the rules read.
func fuzzPodSpec(s *corev1.PodSpec, c randfill.Continue) {
	c.Fill(&s.Affinity)
	c.Fill(&s.Tolerations)
	c.Fill(&s.NodeSelector)
	c.Fill(&s.TopologySpreadConstraints)
	c.Fill(&s.Containers)
	c.Fill(&s.InitContainers)
}

// rulesFuzzCase is what one execution of the rule fuzz targets evaluates.
type rulesFuzzCase struct {
	Kind        uint8
	Template    corev1.PodTemplateSpec
	Meta        metav1.ObjectMeta
	Replicas    *int32
	Strategy    appsv1.DeploymentStrategy
	StatefulSet appsv1.StatefulSet
	Old         *appsv1.StatefulSet
	Service     *corev1.Service
	Nodes       []corev1.Node
	NodesKnown  bool
}

// object builds the workload the case names, around its pod template.
func (fc *rulesFuzzCase) object() runtime.Object {
	tpl, meta := fc.Template, fc.Meta
	switch fc.Kind % 8 {
	case 0:
		return &corev1.Pod{ObjectMeta: tpl.ObjectMeta, Spec: tpl.Spec}
	case 1:
		return &corev1.ReplicationController{ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{Replicas: fc.Replicas, Template: &tpl}}
	case 2:
		return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: fc.Replicas, Template: tpl, Strategy: fc.Strategy}}
	case 3:
		return &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Replicas: fc.Replicas, Template: tpl}}
	case 4:
		return &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: tpl}}
	case 5:
		return &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tpl}}
	case 6:
		return &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tpl}}}}
	}
	return &fc.StatefulSet
}

// fuzzView answers with the fuzzed Service and Nodes.
type fuzzView struct {
	service    *corev1.Service
	nodes      []*corev1.Node
	nodesKnown bool
}

func (v fuzzView) Service(_ context.Context, namespace, name string) (*corev1.Service, bool, error) {
	if v.service == nil {
		return nil, false, nil
	}
	return v.service, true, nil
}

func (v fuzzView) Nodes(context.Context) ([]*corev1.Node, error) {
	if !v.nodesKnown {
		return nil, ErrNoData
	}
	return v.nodes, nil
}

func (fc *rulesFuzzCase) view() ClusterView {
	v := fuzzView{service: fc.Service, nodesKnown: fc.NodesKnown}
	for i := range fc.Nodes {
		v.nodes = append(v.nodes, &fc.Nodes[i])
	}
	return v
}

// fuzzRulesSeeds are a few byte strings; randfill reads any bytes, so
// seeds only need to differ.
var fuzzRulesSeeds = [][]byte{
	nil,
	[]byte("\x00\x00\x00\x00\x00\x00\x00\x00"),
	[]byte("setwarden statefulset with a headless service and nodes"),
	[]byte("\xff\xff\xff\xff\xff\xff\xff\xff\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"),
	[]byte(strings.Repeat("agent daemonset tolerations ", 8)),
}

// FuzzRulesEvaluate runs every rule, in both modes, over arbitrary pod
// templates in every workload kind and over arbitrary StatefulSets (with
// an old version, a governing Service and Nodes): no panic, every finding
// names a known rule and carries a field error with a path and a detail,
// and evaluating never changes the object.
func FuzzRulesEvaluate(f *testing.F) {
	for _, seed := range fuzzRulesSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fc := &rulesFuzzCase{}
		newRulesFiller(data).Fill(fc)
		obj := fc.object()
		before := obj.DeepCopyObject()
		var old runtime.Object
		if fc.Old != nil && fc.Kind%8 == 7 {
			old = fc.Old
		}
		for _, mode := range []Mode{ModeAdmission, ModeOffline} {
			// The memo of valid labels must not change a report: a new
			// engine's memo is empty, and its second evaluation finds
			// this object's labels in it.
			engine := NewEngine(nil)
			report := engine.Evaluate(t.Context(), Request{Object: obj, OldObject: old, View: fc.view(), Mode: mode})
			if !report.Applicable {
				t.Fatalf("a %T is a workload, but the report says no rule applies", obj)
			}
			fuzzCheckFindings(t, report.Findings)
			fuzzCheckFindings(t, report.Exempted)
			again := engine.Evaluate(t.Context(), Request{Object: obj, OldObject: old, View: fc.view(), Mode: mode})
			if diff := cmp.Diff(report, again); diff != "" {
				t.Fatalf("the second evaluation, with the labels remembered, differs:\n%s", diff)
			}
		}
		if !equality.Semantic.DeepEqual(before, obj) {
			t.Fatalf("Evaluate changed the %T it evaluated", obj)
		}
	})
}

func fuzzCheckFindings(t *testing.T, findings []Finding) {
	t.Helper()
	for _, f := range findings {
		if _, ok := RuleByID(f.Rule); !ok {
			t.Fatalf("finding of unknown rule %q", f.Rule)
		}
		if f.Err == nil || f.Err.Field == "" || f.Err.Detail == "" {
			t.Fatalf("finding of rule %s has no full field error: %#v", f.Rule, f.Err)
		}
		switch f.Action {
		case ActionDeny, ActionWarn, ActionAudit, ActionMutate:
		default:
			t.Fatalf("finding of rule %s has action %q", f.Rule, f.Action)
		}
	}
}

// FuzzMutateAgentTolerations checks the mutation's contract over arbitrary
// DaemonSets: mutating twice changes nothing more than mutating once, and a
// mutated DaemonSet has no agent-tolerations finding left.
func FuzzMutateAgentTolerations(f *testing.F) {
	for _, seed := range fuzzRulesSeeds {
		f.Add(seed)
	}
	engine := NewEngine(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		ds := &appsv1.DaemonSet{}
		filler := newRulesFiller(data)
		filler.Fill(&ds.ObjectMeta)
		filler.Fill(&ds.Spec.Template)
		if len(data) > 0 && data[0]&1 == 1 {
			// Make half of the inputs agents, else the fuzzer rarely finds one.
			metav1.SetMetaDataLabel(&ds.ObjectMeta, DefaultAgentLabel, "true")
		}
		engine.MutateAgentTolerations(ds)
		once := ds.DeepCopy()
		if added := engine.MutateAgentTolerations(ds); len(added) != 0 {
			t.Fatalf("the second mutation added %v", added)
		}
		if !equality.Semantic.DeepEqual(once, ds) {
			t.Fatalf("the second mutation changed the DaemonSet")
		}
		report := engine.Evaluate(t.Context(), Request{Object: ds, Mode: ModeAdmission})
		for _, finding := range report.Findings {
			if finding.Rule == RuleAgentTolerations {
				t.Fatalf("after mutation, agent-tolerations still reports %s", finding.Message())
			}
		}
	})
}
