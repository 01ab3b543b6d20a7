package check

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/internal/helm/engine"
	"github.com/setwarden/setwarden/internal/manifest"
)

// HelmKubeVersion is the Kubernetes version charts are rendered for, as
// .Capabilities.KubeVersion and for Chart.yaml's kubeVersion constraint.
var HelmKubeVersion = chartutil.KubeVersion{Version: "v1.37.0", Major: "1", Minor: "37"}

// HelmOptions are what `helm template` takes besides the chart.
type HelmOptions struct {
	// ValuesFiles are --values files, merged in order.
	ValuesFiles []string
	// Set are --set key=value overrides, applied in order after the files.
	Set []string
	// ReleaseName is .Release.Name: "release-name" when empty, as helm
	// template names it.
	ReleaseName string
	// Namespace is .Release.Namespace: "default" when empty.
	Namespace string
}

// HelmValues merges the values files and --set overrides as helm does:
// files are deep-merged in order, then each --set is parsed into the
// result with helm's strvals.
func HelmValues(o HelmOptions) (map[string]any, error) {
	vals := map[string]any{}
	for _, file := range o.ValuesFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--values %s: %w", file, err)
		}
		current := map[string]any{}
		if err := yaml.Unmarshal(data, &current); err != nil {
			return nil, fmt.Errorf("--values %s: %w", file, err)
		}
		vals = mergeValues(vals, current)
	}
	for _, kv := range o.Set {
		if err := strvals.ParseInto(kv, vals); err != nil {
			return nil, fmt.Errorf("--set %s: %w", kv, err)
		}
	}
	return vals, nil
}

// mergeValues deep-merges b into a copy of a, as helm's values options do.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v, ok := v.(map[string]any); ok {
			if bv, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(bv, v)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// errLibraryChart is returned for a library chart, which renders nothing.
var errLibraryChart = errors.New("a library chart renders nothing")

// renderChart renders the chart in dir as helm template does, in-process
// and offline, and returns one file per template, named by the template's
// path under dir: each holds the template's manifests as helm template
// prints them ("---", "# Source: CHART/templates/x.yaml", the manifest), so
// that a line is the line of `helm template -s templates/x.yaml`. NOTES.txt
// and partials (templates whose name starts with "_") render nothing.
func renderChart(dir string, vals map[string]any, o HelmOptions) ([]manifest.VirtualFile, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	if chrt.Metadata.Type == "library" {
		return nil, errLibraryChart
	}
	if err := checkDependencies(chrt); err != nil {
		return nil, err
	}
	// ProcessDependencies and ToRenderValues read vals; helm copies its
	// values before, so the caller's map is not changed from chart to chart.
	vals = copyValues(vals).(map[string]any)
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = HelmKubeVersion
	if c := chrt.Metadata.KubeVersion; c != "" && !chartutil.IsCompatibleRange(c, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", c, caps.KubeVersion.String())
	}
	release := chartutil.ReleaseOptions{Name: orDefault(o.ReleaseName, "release-name"), Namespace: orDefault(o.Namespace, "default"),
		Revision: 1, IsInstall: true}
	values, err := chartutil.ToRenderValues(chrt, vals, release, caps)
	if err != nil {
		return nil, err
	}
	rendered, err := engine.Engine{}.Render(chrt, values)
	if err != nil {
		return nil, err
	}
	for name := range rendered {
		if path.Base(name) == "NOTES.txt" {
			delete(rendered, name)
		}
	}
	// SortManifests splits each template's output into manifests, orders
	// them as helm template prints them, and refuses invalid YAML as it does.
	hooks, manifests, err := releaseutil.SortManifests(rendered, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	var files []manifest.VirtualFile
	byName := map[string]int{}
	add := func(source, content string) {
		i, ok := byName[source]
		if !ok {
			i = len(files)
			byName[source] = i
			files = append(files, manifest.VirtualFile{Name: templateFile(dir, source)})
		}
		files[i].Data = fmt.Appendf(files[i].Data, "---\n# Source: %s\n%s\n", source, content)
	}
	for _, m := range manifests {
		add(m.Name, m.Content)
	}
	for _, h := range hooks { // helm template prints hooks after the manifests
		add(h.Path, h.Manifest)
	}
	return files, nil
}

// templateFile turns a "# Source:" path, which starts with the chart's name,
// into the template's path under the chart's directory.
func templateFile(dir, source string) string {
	_, rest, ok := strings.Cut(source, "/")
	if !ok {
		return filepath.Join(dir, filepath.FromSlash(source))
	}
	return filepath.Join(dir, filepath.FromSlash(rest))
}

// checkDependencies refuses a chart whose Chart.yaml lists dependencies
// missing from its charts/ folder, as helm template does.
func checkDependencies(chrt *chart.Chart) error {
	var missing []string
	for _, req := range chrt.Metadata.Dependencies {
		found := false
		for _, dep := range chrt.Dependencies() {
			if dep.Name() == req.Name {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, req.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s (run helm dependency build)", strings.Join(missing, ", "))
	}
	return nil
}

// copyValues deep-copies values, keeping their types.
func copyValues(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = copyValues(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValues(e)
		}
		return out
	}
	return v
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
