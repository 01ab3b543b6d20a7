package audit

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/setwarden/setwarden/policies"
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
	ro, ok := obj.(runtime.Object)
	if !ok {
		return obj, nil
	}
	kind, ok := policies.KindOf(ro)
	if !ok {
		return obj, nil
	}
	if Controlled(m) {
		return controlledStub(kind, ro, m), nil
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
	// Every workload kind has a Status field, which no rule reads.
	if status := reflect.ValueOf(obj).Elem().FieldByName("Status"); status.IsValid() && status.CanSet() {
		status.SetZero()
	}
	return obj, nil
}

// controlledStub returns an empty object of obj's kind carrying only the
// metadata that says it is controlled.
func controlledStub(kind policies.Kind, obj runtime.Object, m metav1.Object) runtime.Object {
	stub := kind.New()
	stub.GetObjectKind().SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	sm := stub.(metav1.Object)
	sm.SetName(m.GetName())
	sm.SetNamespace(m.GetNamespace())
	sm.SetUID(m.GetUID())
	sm.SetResourceVersion(m.GetResourceVersion())
	sm.SetGeneration(m.GetGeneration())
	sm.SetOwnerReferences(m.GetOwnerReferences())
	return stub
}
