package check

import (
	"context"
	"errors"
	"os"

	"github.com/setwarden/setwarden/internal/manifest"
)

// kustomizationFiles are the names kustomize reads a kustomization from.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Expander reads the Helm charts (folders with a Chart.yaml) and the
// kustomizations (folders with a kustomization.yaml) that directory walks
// meet as what they render or build, instead of their files: a chart's
// templates and values.yaml are not manifests. It renders each folder once,
// though a check walks its input twice.
type Expander struct {
	helm   HelmOptions
	values map[string]any
	kinds  map[string]string // folder → "Chart.yaml" or its kustomization file
	done   map[string]manifest.Expansion
}

var _ manifest.Expander = &Expander{}

// NewExpander reads the values files and --set overrides every chart is
// rendered with, as helm template takes them.
func NewExpander(o HelmOptions) (*Expander, error) {
	vals, err := HelmValues(o)
	if err != nil {
		return nil, err
	}
	return &Expander{helm: o, values: vals, kinds: map[string]string{}, done: map[string]manifest.Expansion{}}, nil
}

// Recognize reports whether dir is a Helm chart or a kustomization; a
// folder that is both is a chart, as helm and kubectl would each read it.
func (x *Expander) Recognize(dir string, entries []os.DirEntry) bool {
	if _, ok := x.kinds[dir]; ok {
		return true // recognized before, or given with -k
	}
	kind := ""
	for _, e := range entries {
		switch name := e.Name(); {
		case e.IsDir():
		case name == "Chart.yaml":
			kind = name
		case kind == "" && isKustomizationFile(name):
			kind = name
		}
	}
	if kind == "" {
		return false
	}
	x.kinds[dir] = kind
	return true
}

func isKustomizationFile(name string) bool {
	for _, k := range kustomizationFiles {
		if name == k {
			return true
		}
	}
	return false
}

// Expand renders the chart or builds the kustomization in dir. A chart that
// does not render, or a kustomization that does not build, is an input
// error naming the folder, with helm's or kustomize's message.
func (x *Expander) Expand(_ context.Context, dir string) manifest.Expansion {
	if done, ok := x.done[dir]; ok {
		return done
	}
	var out manifest.Expansion
	src := manifest.Source{File: dir}
	if kind := x.kinds[dir]; kind == "Chart.yaml" {
		files, err := renderChart(dir, x.values, x.helm)
		switch {
		case errors.Is(err, errLibraryChart):
			out.Notices = append(out.Notices, manifest.Problem{Source: src, Message: "skipped: a library Helm chart renders nothing"})
		case err != nil:
			out.Problems = append(out.Problems, manifest.Problem{Source: src, Message: "Helm chart does not render: " + err.Error()})
		case len(files) == 0:
			out.Notices = append(out.Notices, manifest.Problem{Source: src, Message: "Helm chart renders no manifests with these values"})
		}
		out.Files = files
	} else {
		files, err := buildKustomization(dir, kind)
		if err != nil {
			out.Problems = append(out.Problems, manifest.Problem{Source: src, Message: "kustomize build: " + err.Error()})
		}
		out.Files = files
	}
	x.done[dir] = out
	return out
}
