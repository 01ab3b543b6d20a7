package check

import (
	"path/filepath"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/setwarden/setwarden/internal/manifest"
)

// originAnnotation is where kustomize's buildMetadata [originAnnotations]
// records the file each object came from.
const originAnnotation = "config.kubernetes.io/origin"

// buildKustomization builds the kustomization in dir (its file named
// kustFile) as kubectl kustomize does, and returns its objects grouped by
// the file they came from, in the order of the build: kustomize's origin
// annotation names it, relative to dir. Objects without a local origin
// (remote resources) are named by dir. The annotation is removed, so that
// the objects are what kubectl kustomize prints; lines count in each file's
// share of the build.
func buildKustomization(dir, kustFile string) ([]manifest.VirtualFile, error) {
	fs := &originFS{FileSystem: filesys.MakeFsOnDisk(), kustomization: absPath(filepath.Join(dir, kustFile))}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		return nil, err
	}
	var files []manifest.VirtualFile
	byName := map[string]int{}
	for _, r := range m.Resources() {
		name := dir
		if origin, err := r.GetOrigin(); err == nil && origin != nil && origin.Repo == "" {
			switch {
			case origin.Path != "":
				name = filepath.Join(dir, filepath.FromSlash(origin.Path))
			case origin.ConfiguredIn != "": // generated, such as a configMapGenerator's
				name = filepath.Join(dir, filepath.FromSlash(origin.ConfiguredIn))
			}
		}
		if annotations := r.GetAnnotations(); len(annotations) > 0 {
			delete(annotations, originAnnotation)
			if err := r.SetAnnotations(annotations); err != nil {
				return nil, err
			}
		}
		out, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		i, ok := byName[name]
		if !ok {
			i = len(files)
			byName[name] = i
			files = append(files, manifest.VirtualFile{Name: name})
		}
		files[i].Data = append(append(files[i].Data, "---\n"...), out...)
	}
	return files, nil
}

// originFS is the disk, except that the kustomization being built asks for
// origin annotations, as if it listed buildMetadata: [originAnnotations].
type originFS struct {
	filesys.FileSystem
	kustomization string // absolute path
}

func (fs *originFS) ReadFile(path string) ([]byte, error) {
	data, err := fs.FileSystem.ReadFile(path)
	if err != nil || absPath(path) != fs.kustomization {
		return data, err
	}
	node, err := kyaml.Parse(string(data))
	if err != nil {
		return data, nil // kustomize reports it
	}
	list, err := node.Pipe(kyaml.LookupCreate(kyaml.SequenceNode, "buildMetadata"))
	if err != nil {
		return data, nil
	}
	for _, v := range list.YNode().Content {
		if v.Value == types.OriginAnnotations {
			return data, nil
		}
	}
	if err := list.PipeE(kyaml.Append(kyaml.NewScalarRNode(types.OriginAnnotations).YNode())); err != nil {
		return data, nil
	}
	out, err := node.String()
	if err != nil {
		return data, nil
	}
	return []byte(out), nil
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}
