package policies

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// readManifest decodes testdata/name, a workload of one of the Kinds,
// strictly into its typed object.
func readManifest(t *testing.T, name string) runtime.Object {
	t.Helper()
	data := readTestdata(t, name)
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		t.Fatal(err)
	}
	for _, k := range Kinds() {
		if k.GroupVersionKind == tm.GroupVersionKind() {
			obj := k.New()
			if err := yaml.UnmarshalStrict(data, obj); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return obj
		}
	}
	t.Fatalf("%s: %s is not a workload kind", name, tm.GroupVersionKind())
	return nil
}

func TestSelectorTemplateMismatch(t *testing.T) {
	const mismatch = "`selector` does not match template `labels`"
	labelsPath := field.NewPath("spec", "template", "metadata", "labels")
	tests := []struct {
		name, manifest string
		want           field.ErrorList
	}{
		{name: "a Deployment whose matchLabels are a subset of the template labels passes", manifest: "deployment-selector-matches.yaml"},
		{
			name: "a Deployment whose matchLabels differ from the template labels is refused", manifest: "deployment-matchlabels-differ.yaml",
			want: field.ErrorList{field.Invalid(labelsPath, map[string]string{"app": "webapp"}, mismatch)},
		},
		{
			name: "a Deployment whose matchExpressions exclude the template labels is refused", manifest: "deployment-expression-excludes.yaml",
			want: field.ErrorList{field.Invalid(labelsPath, map[string]string{"app": "web", "tier": "cache"}, mismatch)},
		},
		{name: "a Deployment without a selector is left to the API server's required-field check", manifest: "deployment-without-selector.yaml"},
		{
			name: "a Deployment whose template has no labels is refused with the nil labels", manifest: "deployment-template-without-labels.yaml",
			want: field.ErrorList{field.Invalid(labelsPath, map[string]string(nil), mismatch)},
		},
		{name: "an empty selector matches every template, so it is no mismatch", manifest: "deployment-empty-selector.yaml"},
		{name: "an invalid selector is left to the API server's selector validation", manifest: "deployment-invalid-selector.yaml"},
		{
			name: "a ReplicaSet whose matchLabels differ from the template labels is refused", manifest: "replicaset-matchlabels-differ.yaml",
			want: field.ErrorList{field.Invalid(labelsPath, map[string]string{"app": "web", "track": "canary"}, mismatch)},
		},
		{
			name: "a StatefulSet whose matchLabels differ from the template labels is refused", manifest: "statefulset-matchlabels-differ.yaml",
			want: field.ErrorList{field.Invalid(labelsPath, map[string]string{"app": "postgres"}, mismatch)},
		},
		{
			name: "a DaemonSet whose matchLabels differ from the template labels is refused", manifest: "daemonset-matchlabels-differ.yaml",
			want: field.ErrorList{field.Invalid(labelsPath, map[string]string{"app": "exporter"}, mismatch)},
		},
		{
			name: "a Job with a manual selector that differs from the template labels is refused", manifest: "job-manual-selector-differs.yaml",
			want: field.ErrorList{field.Invalid(labelsPath, map[string]string{"job": "migrate-db"}, mismatch)},
		},
		{name: "a Job without manualSelector gets a generated selector, so it is not judged", manifest: "job-generated-selector.yaml"},
		{
			name: "a CronJob whose job template sets a selector is refused, since the API server generates it", manifest: "cronjob-selector-set.yaml",
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "jobTemplate", "spec", "selector"),
				&metav1.LabelSelector{MatchLabels: map[string]string{"job": "backup"}}, "`selector` will be auto-generated")},
		},
		{name: "a CronJob without a job template selector passes", manifest: "cronjob-without-selector.yaml"},
		{
			name: "a ReplicationController whose selector differs from the template labels is refused", manifest: "replicationcontroller-selector-differs.yaml",
			want: field.ErrorList{field.Invalid(labelsPath, map[string]string{"app": "frontend"}, mismatch)},
		},
		{name: "a ReplicationController without a selector gets the template labels as its selector", manifest: "replicationcontroller-empty-selector.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertErrors(t, checkSelectorTemplateMismatch(inputFor(t, readManifest(t, "selector/"+tc.manifest))), tc.want)
		})
	}
}

// TestSelectorTemplateMismatchMessage pins the text kubectl prints for the
// finding, which is the API server's.
func TestSelectorTemplateMismatchMessage(t *testing.T) {
	errs := checkSelectorTemplateMismatch(inputFor(t, readManifest(t, "selector/deployment-matchlabels-differ.yaml")))
	want := "spec.template.metadata.labels: Invalid value: {\"app\":\"webapp\"}: `selector` does not match template `labels`"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("got %v, want [%s]", errs, want)
	}
}
