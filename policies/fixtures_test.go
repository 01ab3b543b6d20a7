package policies

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// deploymentWith returns a Deployment "web" in namespace "apps" whose pod
// template has the given spec and labels app=web.
func deploymentWith(replicas int32, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       spec,
			},
		},
	}
}

// inputFor builds the Input a rule sees for obj, with the given nodes and
// the default config.
func inputFor(t *testing.T, obj runtime.Object, nodes ...*corev1.Node) *Input {
	t.Helper()
	w, ok := NewWorkload(obj)
	if !ok {
		t.Fatalf("%T is not a workload", obj)
	}
	return &Input{Workload: w, Config: DefaultConfig(), Nodes: nodes}
}

// assertErrors compares field errors by type, field, bad value and detail.
func assertErrors(t *testing.T, got, want field.ErrorList) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *field.Error) bool {
		return a.Type == b.Type && a.Field == b.Field && a.Detail == b.Detail &&
			cmp.Equal(a.BadValue, b.BadValue)
	})); diff != "" {
		t.Errorf("field errors differ (-want +got):\n%s", diff)
	}
}

// nodeWith returns a Node with the given name, labels and taints.
func nodeWith(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: taints},
	}
}

// nodeReq returns a node selector requirement on key.
func nodeReq(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

// readTestdata returns the contents of testdata/name.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkCase is a table case for one rule's check: the findings want for obj
// against nodes.
type checkCase struct {
	name  string
	obj   runtime.Object
	nodes []*corev1.Node
	want  field.ErrorList
}

// runCheckCases runs check on each case and compares its field errors.
func runCheckCases(t *testing.T, check CheckFunc, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertErrors(t, check(inputFor(t, tc.obj, tc.nodes...)), tc.want)
		})
	}
}
