package check

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/setwarden/setwarden/internal/manifest"
)

// inNamespace puts an object read without a namespace in namespace, as
// kubectl -n does, so that exemptions, per-namespace actions, Service
// lookups and the report all see the namespace it would be created in. The
// workloads and Services setwarden decodes are namespaced; Nodes are not,
// and the scope of other kinds is not known offline, so they are left as
// they are. An empty namespace leaves every object as it is (the engine
// and the view then take "default").
func inNamespace(doc *manifest.Document, namespace string) {
	if namespace == "" || doc.Namespace != "" {
		return
	}
	switch o := doc.Object.(type) {
	case nil, *corev1.Node:
	case metav1.Object:
		if o.GetNamespace() == "" {
			o.SetNamespace(namespace)
		}
		doc.Namespace = namespace
	}
}
