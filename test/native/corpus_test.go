package native

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/test/fidelity"
	"github.com/setwarden/setwarden/test/framework"
)

// testCase is one object sent through both paths: created (dry run), or,
// when old is set, an update of old (created before any admission is
// installed) that keeps old's violations.
type testCase struct {
	name string
	obj  client.Object
	old  client.Object
}

// Namespaces the cases are spread over; the PolicyConfig gives each its actions.
var namespaces = []string{"default", "legacy", "strict", "quiet", "agents", "exempt", "kube-system"}

// manifestDirs hold the bundled examples, the engine's test manifests and
// this package's own.
var manifestDirs = []string{"examples", "cmd/setwarden/app/testdata/manifests", "test/e2e/testdata",
	"internal/fix/testdata", "policies/testdata/selector", nativeTestdata}

// nativeTestdata holds manifests written for this test, which keep their
// namespaces.
const nativeTestdata = "test/native/testdata"

// manifestCases decodes every workload of the manifest directories, in
// namespace "default" but for nativeTestdata's.
func manifestCases(t *testing.T) []testCase {
	t.Helper()
	var cases []testCase
	for _, dir := range manifestDirs {
		files, _ := filepath.Glob(filepath.Join(framework.RepoRoot(), dir, "*", "*.yaml"))
		more, _ := filepath.Glob(filepath.Join(framework.RepoRoot(), dir, "*.yaml"))
		for _, file := range append(files, more...) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(framework.RepoRoot(), file)
			for i, obj := range decodeWorkloads(data) {
				if obj.GetNamespace() == "" || dir != nativeTestdata {
					obj.SetNamespace("default")
				}
				cases = append(cases, testCase{name: fmt.Sprintf("%s#%d", rel, i), obj: obj})
			}
		}
	}
	if len(cases) < 20 {
		t.Fatalf("only %d manifests found", len(cases))
	}
	return cases
}

// decodeWorkloads returns the objects of a YAML stream that the engine judges.
func decodeWorkloads(data []byte) []client.Object {
	var out []client.Object
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if err != io.EOF {
				return out
			}
			return out
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(raw, nil, nil)
		if err != nil {
			continue
		}
		if _, ok := policies.KindOf(obj); ok {
			out = append(out, obj.(client.Object))
		}
	}
}

// Toleration parts around the control-plane taints: role keys, the test
// config's own taint key, the empty key and another key; every operator
// the API server accepts; every effect.
var (
	tolerationKeys    = []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master", "example.com/infra", "", "example.com/other"}
	tolerationOps     = []corev1.TolerationOperator{corev1.TolerationOpExists, corev1.TolerationOpEqual, ""}
	tolerationEffects = []corev1.TaintEffect{"", corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute, corev1.TaintEffectPreferNoSchedule}
	exemptValues      = []string{"*", policies.RuleStatefulSetServiceName, "agent-tolerations, statefulset-name-too-long", " toleration-value-fragile ,statefulset-volume-claim-templates", "bogus"}
	exemptReasons     = []string{"", "  ", "migrating in Q3"}
	exemptNames       = []string{"vendor-db", "vendor-agent"}
)

// controlPlaneToleration draws a valid toleration around the taints.
func controlPlaneToleration(r *rand.Rand) corev1.Toleration {
	t := corev1.Toleration{Key: tolerationKeys[r.IntN(len(tolerationKeys))], Operator: tolerationOps[r.IntN(len(tolerationOps))],
		Effect: tolerationEffects[r.IntN(len(tolerationEffects))]}
	if t.Key == "" {
		t.Operator = corev1.TolerationOpExists
	}
	if t.Operator != corev1.TolerationOpExists && r.IntN(2) == 0 {
		t.Value = "true"
	}
	return t
}

// variantCases derives n cases from test/fidelity's generated workloads:
// each is moved to a namespace, some become DaemonSets (agents or not),
// StatefulSets lose their serviceName or claims or get long names, and
// tolerations around the control-plane taints and exemption annotations
// are added; some are named after the test config's object exemptions.
func variantCases(n int) []testCase {
	var cases []testCase
	for i, v := range fidelity.Generate(n) {
		r := rand.New(rand.NewPCG(fidelity.Seed, uint64(i)))
		obj := v.Object
		w, _ := policies.NewWorkload(obj)
		dropInvalid(obj, w.PodSpec)
		if r.IntN(3) == 0 {
			obj = daemonSet(r, v.Name, w.PodSpec)
			w, _ = policies.NewWorkload(obj)
		}
		obj.SetNamespace(namespaces[r.IntN(len(namespaces))])
		if r.IntN(5) == 0 {
			obj.SetName(exemptNames[r.IntN(len(exemptNames))]) // exempt by name in some namespaces, for some kinds
		}
		if sts, ok := obj.(*appsv1.StatefulSet); ok {
			shapeStatefulSet(r, sts)
		}
		for range r.IntN(4) {
			w.PodSpec.Tolerations = append(w.PodSpec.Tolerations, controlPlaneToleration(r))
		}
		if r.IntN(6) == 0 {
			obj.SetAnnotations(map[string]string{
				policies.ExemptAnnotation:       exemptValues[r.IntN(len(exemptValues))],
				policies.ExemptReasonAnnotation: exemptReasons[r.IntN(len(exemptReasons))],
			})
		}
		cases = append(cases, testCase{name: fmt.Sprintf("%s (%T in %s)", v.Name, obj, obj.GetNamespace()), obj: obj})
	}
	return cases
}

// dropInvalid removes the generated affinity and tolerations that the API
// server would refuse (test/fidelity proves the engine's affinity-invalid
// and toleration-invalid are its verdicts), so that most variants reach
// admission instead of failing validation on both paths alike.
func dropInvalid(obj client.Object, spec *corev1.PodSpec) {
	report := policies.NewEngine(nil).Evaluate(context.Background(), policies.Request{Object: obj, Mode: policies.ModeOffline})
	for _, f := range report.Findings {
		switch f.Rule {
		case policies.RuleAffinityInvalid:
			spec.Affinity = nil
		case policies.RuleTolerationInvalid:
			spec.Tolerations = nil
		}
	}
}

// daemonSet wraps a pod spec in a DaemonSet that the test config's agent
// selector matches, or not.
func daemonSet(r *rand.Rand, name string, spec *corev1.PodSpec) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "fidelity"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: fidelity.PodLabels}, Spec: *spec}}}
	ds.Spec.Template.Spec.RestartPolicy = ""
	switch r.IntN(4) {
	case 0:
		ds.Labels = map[string]string{policies.DefaultAgentLabel: "true"}
	case 1:
		ds.Labels = map[string]string{policies.DefaultAgentLabel: "yes"}
	case 2:
		ds.Labels = map[string]string{policies.DefaultAgentLabel: "no"}
	}
	return ds
}

// shapeStatefulSet gives a StatefulSet the violations the exported rules catch.
func shapeStatefulSet(r *rand.Rand, sts *appsv1.StatefulSet) {
	if r.IntN(3) == 0 {
		sts.Spec.ServiceName = ""
	}
	if r.IntN(2) == 0 {
		sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{claim()}
	}
	if r.IntN(4) == 0 {
		sts.Name += "-" + strings.Repeat("x", 40+r.IntN(10))
	}
}

func claim() corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
}

// updateCases update StatefulSets that already break a rule, and agent
// DaemonSets: the violations are grandfathered, as the engine decides on UPDATE.
func updateCases() []testCase {
	var cases []testCase
	for _, ns := range []string{"default", "legacy", "strict", "quiet"} {
		for _, shape := range []string{"no-service-name", "no-claims", "long-name"} {
			sts := framework.BrokenStatefulSet(ns)
			sts.Name = "upd-" + shape
			sts.Spec.ServiceName, sts.Spec.VolumeClaimTemplates = "svc", []corev1.PersistentVolumeClaim{claim()}
			switch shape {
			case "no-service-name":
				sts.Spec.ServiceName = ""
			case "no-claims":
				sts.Spec.VolumeClaimTemplates = nil
			default:
				sts.Name += "-" + strings.Repeat("y", 40)
			}
			next := sts.DeepCopy()
			next.Labels = map[string]string{"touched": "yes"}
			cases = append(cases, testCase{name: "update " + ns + "/" + sts.Name, obj: next, old: sts})
		}
		ds := framework.AgentDaemonSet(ns)
		ds.Name = "upd-agent"
		next := ds.DeepCopy()
		next.Labels["touched"] = "yes"
		cases = append(cases, testCase{name: "update " + ns + "/" + ds.Name, obj: next, old: ds})
	}
	return cases
}
