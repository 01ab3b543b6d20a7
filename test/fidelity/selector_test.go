package fidelity

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/policies"
)

// selectorManifests are the engine's table-test manifests for
// selector-template-mismatch.
const selectorManifests = "../../policies/testdata/selector"

// TestSelectorTemplateMismatchAgreement dry-runs each selector manifest
// through the API server: every selector-template-mismatch finding is one
// of the API server's field errors, word for word, and every error the API
// server gives about a set selector that does not select the template, or
// that may not be set, is a finding. A missing selector is not judged.
func TestSelectorTemplateMismatchAgreement(t *testing.T) {
	c := apiServer(t)
	files, err := filepath.Glob(filepath.Join(selectorManifests, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", selectorManifests, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			obj := decodeWorkload(t, file)
			obj.SetNamespace(Namespace)
			report := policies.NewEngine(nil).Evaluate(t.Context(), policies.Request{Object: obj, Mode: policies.ModeOffline})
			var engine []cause
			for _, f := range report.Findings {
				if f.Rule == policies.RuleSelectorTemplateMismatch {
					engine = append(engine, cause{Field: f.Err.Field, Type: string(f.Err.Type), Message: f.Err.ErrorBody()})
				}
			}
			server, err := serverCauses(t.Context(), c, obj.DeepCopyObject().(client.Object))
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			for _, e := range engine {
				if !slices.Contains(server, e) {
					t.Errorf("finding %s is not among the API server's errors %v", e, server)
				}
			}
			for _, s := range server {
				aboutSelector := strings.Contains(s.Message, "`selector` does not match") ||
					strings.Contains(s.Message, "`selector` will be auto-generated")
				if aboutSelector && !missingSelector(obj) && !slices.Contains(engine, s) {
					t.Errorf("the API server's %s is not a finding (findings: %v)", s, engine)
				}
			}
			t.Logf("API server: %v", server)
		})
	}
}

// missingSelector reports whether obj is a Deployment, ReplicaSet,
// StatefulSet or DaemonSet without a selector.
func missingSelector(obj client.Object) bool {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Selector == nil
	case *appsv1.ReplicaSet:
		return o.Spec.Selector == nil
	case *appsv1.StatefulSet:
		return o.Spec.Selector == nil
	case *appsv1.DaemonSet:
		return o.Spec.Selector == nil
	}
	return false
}

// decodeWorkload reads a manifest of one of policies.Kinds strictly.
func decodeWorkload(t *testing.T, path string) client.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		t.Fatal(err)
	}
	for _, k := range policies.Kinds() {
		if k.GroupVersionKind == tm.GroupVersionKind() {
			obj := k.New().(client.Object)
			if err := yaml.UnmarshalStrict(data, obj); err != nil {
				t.Fatal(err)
			}
			obj.GetObjectKind().SetGroupVersionKind(k.GroupVersionKind)
			return obj
		}
	}
	t.Fatalf("%s: %s is not a workload kind", path, tm.GroupVersionKind())
	return nil
}
