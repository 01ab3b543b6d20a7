package policies

import (
	"reflect"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kind is one workload kind the engine judges: the one place a kind is
// listed. The engine extracts workloads with it, the webhook registers its
// validators from it, the CLI decodes manifests into its objects, JUnit
// lists rules by it, and a test keeps the chart's webhook rules equal to it.
type Kind struct {
	// GroupVersionKind is the kind as setwarden reads and serves it.
	schema.GroupVersionKind
	// Resource is the plural resource name, as webhook rules name it.
	Resource string
	// New returns an empty typed object of the kind.
	New func() runtime.Object
	// workload extracts the pod template of an object of the kind.
	workload func(obj runtime.Object) *Workload
}

// GroupKind returns the kind without its version.
func (k Kind) GroupKind() schema.GroupKind { return k.GroupVersionKind.GroupKind() }

var (
	specPath     = field.NewPath("spec")
	templatePath = specPath.Child("template")
)

// Kinds returns the workload kinds setwarden judges, in a fixed order. The
// slice is a copy: callers may keep or change it.
func Kinds() []Kind { return slices.Clone(kinds) }

// kinds is the table of workload kinds; it is never changed.
var kinds = []Kind{
	{corev1.SchemeGroupVersion.WithKind("Pod"), "pods", func() runtime.Object { return &corev1.Pod{} },
		func(obj runtime.Object) *Workload {
			o := obj.(*corev1.Pod)
			return &Workload{Meta: &o.ObjectMeta, PodMeta: &o.ObjectMeta, PodSpec: &o.Spec, PodSpecPath: specPath}
		}},
	{corev1.SchemeGroupVersion.WithKind("ReplicationController"), "replicationcontrollers",
		func() runtime.Object { return &corev1.ReplicationController{} },
		func(obj runtime.Object) *Workload {
			o := obj.(*corev1.ReplicationController)
			tpl := o.Spec.Template
			if tpl == nil { // rejected by the API server; read as an empty template
				tpl = &corev1.PodTemplateSpec{}
			}
			w := fromTemplate(&o.ObjectMeta, tpl, templatePath)
			w.Replicas = replicasOrOne(o.Spec.Replicas)
			return w
		}},
	{appsv1.SchemeGroupVersion.WithKind("Deployment"), "deployments", func() runtime.Object { return &appsv1.Deployment{} },
		func(obj runtime.Object) *Workload {
			o := obj.(*appsv1.Deployment)
			w := fromTemplate(&o.ObjectMeta, &o.Spec.Template, templatePath)
			w.Replicas, w.Deployment = replicasOrOne(o.Spec.Replicas), o
			return w
		}},
	{appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), "replicasets", func() runtime.Object { return &appsv1.ReplicaSet{} },
		func(obj runtime.Object) *Workload {
			o := obj.(*appsv1.ReplicaSet)
			w := fromTemplate(&o.ObjectMeta, &o.Spec.Template, templatePath)
			w.Replicas = replicasOrOne(o.Spec.Replicas)
			return w
		}},
	{appsv1.SchemeGroupVersion.WithKind("StatefulSet"), "statefulsets", func() runtime.Object { return &appsv1.StatefulSet{} },
		func(obj runtime.Object) *Workload {
			o := obj.(*appsv1.StatefulSet)
			w := fromTemplate(&o.ObjectMeta, &o.Spec.Template, templatePath)
			w.Replicas, w.StatefulSet = replicasOrOne(o.Spec.Replicas), o
			return w
		}},
	{appsv1.SchemeGroupVersion.WithKind("DaemonSet"), "daemonsets", func() runtime.Object { return &appsv1.DaemonSet{} },
		func(obj runtime.Object) *Workload {
			o := obj.(*appsv1.DaemonSet)
			w := fromTemplate(&o.ObjectMeta, &o.Spec.Template, templatePath)
			w.DaemonSet = o
			return w
		}},
	{batchv1.SchemeGroupVersion.WithKind("Job"), "jobs", func() runtime.Object { return &batchv1.Job{} },
		func(obj runtime.Object) *Workload {
			o := obj.(*batchv1.Job)
			return fromTemplate(&o.ObjectMeta, &o.Spec.Template, templatePath)
		}},
	{batchv1.SchemeGroupVersion.WithKind("CronJob"), "cronjobs", func() runtime.Object { return &batchv1.CronJob{} },
		func(obj runtime.Object) *Workload {
			o := obj.(*batchv1.CronJob)
			return fromTemplate(&o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template, specPath.Child("jobTemplate", "spec", "template"))
		}},
}

// kindByType finds a typed object's entry in kinds; it is never changed.
var kindByType = func() map[reflect.Type]int {
	m := make(map[reflect.Type]int, len(kinds))
	for i, k := range kinds {
		m[reflect.TypeOf(k.New())] = i
	}
	return m
}()

// KindOf returns the workload kind of a typed object, and false for objects
// of other kinds.
func KindOf(obj runtime.Object) (Kind, bool) {
	i, ok := kindByType[reflect.TypeOf(obj)]
	if !ok {
		return Kind{}, false
	}
	return kinds[i], true
}

func fromTemplate(meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, tplPath *field.Path) *Workload {
	return &Workload{
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
