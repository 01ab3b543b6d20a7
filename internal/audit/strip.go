package audit

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// lastApplied is kubectl's copy of the whole applied manifest: often the
// largest annotation of an object, and no rule reads it.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// StripWorkload is the cache transform of the judged kinds in watch mode:
// it keeps what the rules and Controlled read. Status, managed fields and
// kubectl's last-applied annotation go; an object whose controller is a
// judged kind (a Deployment's ReplicaSets, any controller's Pods) is never
// judged, so only its name, UID and owner references stay. In a cluster of
// thousands of workloads and many more Pods, that keeps the caches small.
func StripWorkload(obj any) (any, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	if Controlled(m) {
		return controlledStub(obj), nil
	}
	m.SetManagedFields(nil)
	if _, ok := m.GetAnnotations()[lastApplied]; ok {
		annotations := make(map[string]string, len(m.GetAnnotations()))
		for k, v := range m.GetAnnotations() {
			if k != lastApplied {
				annotations[k] = v
			}
		}
		m.SetAnnotations(annotations)
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status = corev1.PodStatus{}
	case *corev1.ReplicationController:
		o.Status = corev1.ReplicationControllerStatus{}
	case *appsv1.Deployment:
		o.Status = appsv1.DeploymentStatus{}
	case *appsv1.ReplicaSet:
		o.Status = appsv1.ReplicaSetStatus{}
	case *appsv1.StatefulSet:
		o.Status = appsv1.StatefulSetStatus{}
	case *appsv1.DaemonSet:
		o.Status = appsv1.DaemonSetStatus{}
	case *batchv1.Job:
		o.Status = batchv1.JobStatus{}
	case *batchv1.CronJob:
		o.Status = batchv1.CronJobStatus{}
	}
	return obj, nil
}

// controlledStub returns an empty object of obj's type carrying only the
// metadata that says it is controlled.
func controlledStub(obj any) any {
	meta := func(m metav1.ObjectMeta) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID,
			ResourceVersion: m.ResourceVersion, Generation: m.Generation, OwnerReferences: m.OwnerReferences}
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		return &corev1.Pod{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
	case *corev1.ReplicationController:
		return &corev1.ReplicationController{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
	case *appsv1.Deployment:
		return &appsv1.Deployment{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
	case *appsv1.ReplicaSet:
		return &appsv1.ReplicaSet{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
	case *appsv1.StatefulSet:
		return &appsv1.StatefulSet{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
	case *appsv1.DaemonSet:
		return &appsv1.DaemonSet{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
	case *batchv1.Job:
		return &batchv1.Job{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
	case *batchv1.CronJob:
		return &batchv1.CronJob{TypeMeta: o.TypeMeta, ObjectMeta: meta(o.ObjectMeta)}
	}
	return obj
}
