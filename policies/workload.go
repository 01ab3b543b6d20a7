package policies

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
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
}

// Namespace returns the object's namespace, "default" when it is empty.
func (w *Workload) Namespace() string {
	if w.Meta.Namespace == "" {
		return metav1.NamespaceDefault
	}
	return w.Meta.Namespace
}

// Kinds lists the group/kinds setwarden evaluates.
var Kinds = []schema.GroupKind{
	{Kind: "Pod"}, {Kind: "ReplicationController"},
	{Group: "apps", Kind: "Deployment"}, {Group: "apps", Kind: "ReplicaSet"},
	{Group: "apps", Kind: "StatefulSet"}, {Group: "apps", Kind: "DaemonSet"},
	{Group: "batch", Kind: "Job"}, {Group: "batch", Kind: "CronJob"},
}

var (
	specPath     = field.NewPath("spec")
	templatePath = specPath.Child("template")
)

// NewWorkload extracts the pod template of a supported typed object. It
// returns false for kinds that carry no pod template.
func NewWorkload(obj runtime.Object) (*Workload, bool) {
	var w *Workload
	switch o := obj.(type) {
	case *corev1.Pod:
		w = &Workload{GroupKind: schema.GroupKind{Kind: "Pod"}, Meta: &o.ObjectMeta,
			PodMeta: &o.ObjectMeta, PodSpec: &o.Spec, PodSpecPath: specPath}
	case *corev1.ReplicationController:
		tpl := o.Spec.Template
		if tpl == nil { // rejected by the API server; read as an empty template
			tpl = &corev1.PodTemplateSpec{}
		}
		w = fromTemplate("", "ReplicationController", &o.ObjectMeta, tpl, templatePath)
		w.Replicas = replicasOrOne(o.Spec.Replicas)
	case *appsv1.Deployment:
		w = fromTemplate("apps", "Deployment", &o.ObjectMeta, &o.Spec.Template, templatePath)
		w.Replicas, w.Deployment = replicasOrOne(o.Spec.Replicas), o
	case *appsv1.ReplicaSet:
		w = fromTemplate("apps", "ReplicaSet", &o.ObjectMeta, &o.Spec.Template, templatePath)
		w.Replicas = replicasOrOne(o.Spec.Replicas)
	case *appsv1.StatefulSet:
		w = fromTemplate("apps", "StatefulSet", &o.ObjectMeta, &o.Spec.Template, templatePath)
		w.Replicas, w.StatefulSet = replicasOrOne(o.Spec.Replicas), o
	case *appsv1.DaemonSet:
		w = fromTemplate("apps", "DaemonSet", &o.ObjectMeta, &o.Spec.Template, templatePath)
		w.DaemonSet = o
	case *batchv1.Job:
		w = fromTemplate("batch", "Job", &o.ObjectMeta, &o.Spec.Template, templatePath)
	case *batchv1.CronJob:
		w = fromTemplate("batch", "CronJob", &o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template,
			specPath.Child("jobTemplate", "spec", "template"))
	default:
		return nil, false
	}
	w.Object = obj
	return w, true
}

func fromTemplate(group, kind string, meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, tplPath *field.Path) *Workload {
	return &Workload{
		GroupKind:   schema.GroupKind{Group: group, Kind: kind},
		Meta:        meta,
		PodMeta:     &tpl.ObjectMeta,
		PodSpec:     &tpl.Spec,
		PodSpecPath: tplPath.Child("spec"),
	}
}

func replicasOrOne(r *int32) *int32 {
	one := int32(1)
	if r == nil {
		return &one
	}
	return r
}
