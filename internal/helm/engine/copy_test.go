package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// changedMarker starts the comment on every line the copies change.
const changedMarker = "// changed by setwarden: was "

// TestCopiesMatchTheirUpstream: the copies of Helm's pkg/engine (this
// package) and of the toolchain's text/template (internal/helm/template)
// are their upstream files but for the lines marked changedMarker, so that a
// Helm upgrade in go.mod or a toolchain whose text/template changed (a
// security fix, say) fails here instead of leaving a stale copy behind. The
// fix is to copy the files again and keep the marked changes (doc.go of
// each package).
func TestCopiesMatchTheirUpstream(t *testing.T) {
	goroot := goOutput(t, "env", "GOROOT")
	helm := goOutput(t, "list", "-m", "-f", "{{.Dir}}", "helm.sh/helm/v3")
	tests := []struct {
		copy, upstream string
	}{
		{"engine.go", filepath.Join(helm, "pkg/engine/engine.go")},
		{"files.go", filepath.Join(helm, "pkg/engine/files.go")},
		{"funcs.go", filepath.Join(helm, "pkg/engine/funcs.go")},
		{"lookup_func.go", filepath.Join(helm, "pkg/engine/lookup_func.go")},
		{"../template/exec.go", filepath.Join(goroot, "src/text/template/exec.go")},
		{"../template/funcs.go", filepath.Join(goroot, "src/text/template/funcs.go")},
		{"../template/helper.go", filepath.Join(goroot, "src/text/template/helper.go")},
		{"../template/option.go", filepath.Join(goroot, "src/text/template/option.go")},
		{"../template/template.go", filepath.Join(goroot, "src/text/template/template.go")},
		{"../template/internal/fmtsort/sort.go", filepath.Join(goroot, "src/internal/fmtsort/sort.go")},
	}
	for _, tc := range tests {
		t.Run(tc.copy, func(t *testing.T) {
			ours, was := unchangedLines(t, tc.copy)
			theirs := upstreamLines(t, tc.upstream, was)
			if diff := cmp.Diff(theirs, ours); diff != "" {
				t.Errorf("%s differs from %s beyond its marked changes: copy it again and keep the lines marked %q (-upstream +copy):\n%s",
					tc.copy, tc.upstream, changedMarker, diff)
			}
		})
	}
}

// goOutput runs the go command and returns its trimmed output.
func goOutput(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// unchangedLines returns the non-blank lines of the copy that carry no
// changedMarker, and what the marked lines replaced.
func unchangedLines(t *testing.T, path string) (lines, was []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if kept, replaced, ok := strings.Cut(line, changedMarker); ok {
			if kept := strings.TrimSpace(kept); strings.HasPrefix(kept, "//") {
				// A comment cut short: upstream's starts with what is kept.
				was = append(was, kept)
				continue
			}
			replaced, _, _ = strings.Cut(replaced, " (see doc.go)")
			was = append(was, replaced)
			continue
		}
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	return lines, was
}

// upstreamLines returns the non-blank lines of the upstream file but for
// those a marked line replaced: an import of a replaced path, or code that
// holds a replaced expression.
func upstreamLines(t *testing.T, path string, was []string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("upstream %s: %v", path, err)
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || replacedBy(trimmed, was) {
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

// replacedBy reports whether a marked line replaced the upstream line: an
// import of the path it names, a comment that starts with the marked
// comment, or code that holds the expression it names.
func replacedBy(trimmed string, was []string) bool {
	for _, w := range was {
		if trimmed == `"`+w+`"` || (strings.HasPrefix(w, "//") && strings.HasPrefix(trimmed, w)) ||
			(!strings.HasPrefix(trimmed, "//") && strings.Contains(trimmed, w) && strings.ContainsAny(w, "(.")) {
			return true
		}
	}
	return false
}
