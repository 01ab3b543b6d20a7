package policies

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Workload is an object that carries a pod template, with the template
// extracted once so that every rule reads the same view of it.
type Workload struct {
	// Object is the typed object the workload was built from.
	Object runtime.Object
	// GroupKind identifies the object's kind, such as apps/StatefulSet.
	GroupKind schema.GroupKind
	// Meta is the object's own metadata.
	Meta *metav1.ObjectMeta
	// PodMeta is the pod template's metadata (the Pod's own for a Pod).
	PodMeta *metav1.ObjectMeta
	// PodSpec is the pod template's spec.
	PodSpec *corev1.PodSpec
	// PodSpecPath is the field path of PodSpec, such as spec.template.spec.
	PodSpecPath *field.Path
	// Replicas is the desired replica count for replicated kinds
	// (Deployment, ReplicaSet, StatefulSet, ReplicationController), with a
	// missing field meaning 1; nil for other kinds.
	Replicas *int32
	// StatefulSet, DaemonSet and Deployment are set for those kinds.
	StatefulSet *appsv1.StatefulSet
	DaemonSet   *appsv1.DaemonSet
	Deployment  *appsv1.Deployment

	// affinityTerms are computed once, for the rules that share them
	// (podaffinity.go). A Workload belongs to one evaluation, so they need
	// no lock.
	affinityTerms []affinityTerm
	// labels is the evaluating engine's memo of valid label texts; nil
	// validates every time.
	labels *labelMemo
}

// Namespace returns the object's namespace, "default" when it is empty.
func (w *Workload) Namespace() string {
	if w.Meta.Namespace == "" {
		return metav1.NamespaceDefault
	}
	return w.Meta.Namespace
}

// NewWorkload extracts the pod template of an object of one of the Kinds.
// It returns false for other objects.
func NewWorkload(obj runtime.Object) (*Workload, bool) {
	k, ok := KindOf(obj)
	if !ok {
		return nil, false
	}
	w := k.workload(obj)
	w.Object, w.GroupKind = obj, k.GroupKind()
	return w, true
}
