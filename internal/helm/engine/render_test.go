package engine

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	helmengine "helm.sh/helm/v3/pkg/engine"
)

// TestRenderLikeHelm renders charts with Helm's engine and with this one,
// and compares every rendered file and every error: the charts of this
// repository, testdata/methods (a call of each kind of method on each type
// a template reaches), and templates that fail.
func TestRenderLikeHelm(t *testing.T) {
	for dir, renders := range map[string]bool{
		"testdata/methods":                                      true,
		"../../../charts/setwarden":                             true,
		"../../../cmd/setwarden/app/testdata/walk/chart":        true,
		"../../../cmd/setwarden/app/testdata/walk/dependency":   true,
		"../../../cmd/setwarden/app/testdata/walk/unrenderable": false,
	} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			chrt, err := loader.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := renderBoth(t, chrt, false); (err == nil) != renders {
				t.Errorf("Helm's engine: %v; want it to render: %v", err, renders)
			}
		})
	}
	for _, tc := range []struct{ name, template string }{
		{"a method of a nil value", `{{ .Values.missing.Has "x" }}`},
		{"a method called with the wrong arguments", `{{ .Capabilities.APIVersions.Has 1 2 }}`},
		{"a name that is neither a method nor a field of a struct", `{{ .Capabilities.Nothing }}`},
		{"an unexported field", `{{ .Capabilities.KubeVersion.major }}`},
		{"a field given arguments", `{{ .Capabilities.KubeVersion.Major "x" }}`},
		{"a method of a value a function returns", `{{ (semver "x").Major }}`},
		{"a missing key in strict mode", `{{ .Values.nothing }}`},
		{"a method on the result of a chain", `{{ (.Files.Glob "*").Lines "none" | len }}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chrt := &chart.Chart{
				Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "inline", Version: "0.1.0"},
				Templates: []*chart.File{{Name: "templates/t.yaml", Data: []byte(tc.template)}},
			}
			renderBoth(t, chrt, false)
			renderBoth(t, chrt, true)
		})
	}
}

// renderBoth renders chrt as helm template does, with Helm's engine and
// with this one, fails the test where the two differ, and returns Helm's
// error.
func renderBoth(t *testing.T, chrt *chart.Chart, strict bool) error {
	t.Helper()
	vals := map[string]any{}
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		t.Fatal(err)
	}
	values, err := chartutil.ToRenderValues(chrt, vals,
		chartutil.ReleaseOptions{Name: "release-name", Namespace: "default", Revision: 1, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	want, wantErr := helmengine.Engine{Strict: strict}.Render(chrt, values)
	got, gotErr := Engine{Strict: strict}.Render(chrt, values)
	if errString(gotErr) != errString(wantErr) {
		t.Errorf("strict %v: error %q, Helm's engine %q", strict, errString(gotErr), errString(wantErr))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("strict %v: rendered files differ from Helm's engine (-helm +ours):\n%s", strict, diff)
	}
	if wantErr == nil && len(want) == 0 {
		t.Error("nothing rendered")
	}
	return wantErr
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
