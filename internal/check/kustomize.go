package check

import (
	"os"
	"slices"
	"strings"

	"github.com/setwarden/setwarden/internal/report"
)

// Kustomizations adds each folder given with -k to paths, built in-process
// as kubectl kustomize builds it and read like a kustomization a walk finds:
// its objects are reported at their resource files (kustomize's origin
// annotations), with lines that count in each file's share of the build. A
// folder that is also a Helm chart is built as a kustomization, as -k asks.
// A folder without a kustomization file is an input error naming it.
func (x *Expander) Kustomizations(paths, dirs []string) ([]string, []report.Problem) {
	var errs []report.Problem
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, report.Problem{File: dir, Message: "kustomize build: " + err.Error()})
			continue
		}
		i := slices.IndexFunc(entries, func(e os.DirEntry) bool { return !e.IsDir() && isKustomizationFile(e.Name()) })
		if i < 0 {
			errs = append(errs, report.Problem{File: dir, Message: "kustomize build: no " + strings.Join(kustomizationFiles[:len(kustomizationFiles)-1], ", ") + " or " + kustomizationFiles[len(kustomizationFiles)-1] +
				" in this folder: give -k the folder of a kustomization"})
			continue
		}
		x.kinds[dir] = entries[i].Name()
		paths = append(paths, dir)
	}
	return paths, errs
}
