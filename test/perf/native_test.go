package perf

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/internal/export"
)

// nativeValidatingName is the part of the broken StatefulSet's denial that
// names the native arm: every exported policy's name starts with it.
const nativeValidatingName = "ValidatingAdmissionPolicy '" + export.NamePrefix

// nativePolicies returns what `setwarden export` writes for the default
// PolicyConfig: the ValidatingAdmissionPolicies of the exported rules and
// the MutatingAdmissionPolicy that adds the control-plane tolerations to
// agent DaemonSets, with their bindings. They match the namespaces
// setwarden's webhooks match.
func nativePolicies(t *testing.T) []client.Object {
	t.Helper()
	set, err := export.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	var objs []client.Object
	for _, obj := range set.Objects() {
		objs = append(objs, obj.(client.Object))
	}
	return objs
}
