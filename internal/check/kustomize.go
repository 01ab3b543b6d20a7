package check

import (
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/setwarden/setwarden/internal/manifest"
	"github.com/setwarden/setwarden/internal/report"
)

// Kustomize builds each kustomization directory in-process, as kubectl
// kustomize does, and adds its output to the reader's input under the name
// "kustomize:DIR", which it appends to paths; lines then count in the built
// stream.
func Kustomize(reader *manifest.Reader, paths, dirs []string) ([]string, []report.Problem) {
	var errs []report.Problem
	for _, dir := range dirs {
		name := "kustomize:" + dir
		m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			errs = append(errs, report.Problem{File: dir, Message: "kustomize build: " + err.Error()})
			continue
		}
		out, err := m.AsYaml()
		if err != nil {
			errs = append(errs, report.Problem{File: dir, Message: "kustomize build: " + err.Error()})
			continue
		}
		if reader.Virtual == nil {
			reader.Virtual = map[string][]byte{}
		}
		reader.Virtual[name] = out
		paths = append(paths, name)
	}
	return paths, errs
}
