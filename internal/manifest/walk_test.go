package manifest

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIgnoreRuleMatches(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		rel     string
		isDir   bool
		want    bool
	}{
		{name: "a name matches a file at the root", pattern: "values.yaml", rel: "values.yaml", want: true},
		{name: "a name matches a file at any depth", pattern: "values.yaml", rel: "a/b/values.yaml", want: true},
		{name: "a glob matches base names", pattern: "*.tmpl.yaml", rel: "a/x.tmpl.yaml", want: true},
		{name: "a glob does not cross folders", pattern: "a*", rel: "b/c", want: false},
		{name: "a path with a folder is anchored to the root", pattern: "a/b", rel: "a/b", isDir: true, want: true},
		{name: "an anchored path does not match deeper", pattern: "a/b", rel: "x/a/b", isDir: true, want: false},
		{name: "a leading / anchors a name", pattern: "/b", rel: "a/b", want: false},
		{name: "a leading / matches at the root", pattern: "/b", rel: "b", want: true},
		{name: "** matches no folder", pattern: "a/**/c.yaml", rel: "a/c.yaml", want: true},
		{name: "** matches several folders", pattern: "a/**/c.yaml", rel: "a/x/y/c.yaml", want: true},
		{name: "a leading ** matches at any depth", pattern: "**/testdata", rel: "x/y/testdata", isDir: true, want: true},
		{name: "a trailing / matches a folder", pattern: "broken/", rel: "examples/broken", isDir: true, want: true},
		{name: "a trailing / does not match a file", pattern: "broken/", rel: "examples/broken", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newIgnoreRule(tt.pattern, false).matches(tt.rel, tt.isDir); got != tt.want {
				t.Errorf("%q matches %q (dir %v) = %v, want %v", tt.pattern, tt.rel, tt.isDir, got, tt.want)
			}
		})
	}
}

// fakeExpander reads repo/chart as one virtual file and an error.
type fakeExpander struct{}

func (x *fakeExpander) Recognize(dir string, _ []os.DirEntry) bool {
	return dir == "repo/chart"
}

func (x *fakeExpander) Expand(context.Context, string) Expansion {
	return Expansion{
		Files:    []VirtualFile{{Name: "repo/chart/templates/sts.yaml", Data: []byte("---\n# Source: chart/templates/sts.yaml\n" + stsYAML)}},
		Problems: []Problem{{Source: Source{File: "repo/chart"}, Message: "one template does not render"}},
	}
}

func TestReaderWalksARepository(t *testing.T) {
	workflow := "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n---\nname: second document\n"
	for _, workers := range []int{1, 4} {
		t.Run(map[int]string{1: "without workers", 4: "with workers"}[workers], func(t *testing.T) {
			t.Chdir(t.TempDir())
			manifestWriteFiles(t, map[string]string{
				"repo/.setwardenignore":          "# comment\n\nbroken/\n!keep.yaml\n",
				"repo/.github/workflows/ci.yaml": workflow,
				"repo/broken/sts.yaml":           "not: [valid",
				"repo/chart/Chart.yaml":          "apiVersion: v2\nname: chart\n",
				"repo/chart/templates/sts.yaml":  "{{ .Values }}",
				"repo/list.yaml":                 "- a\n- b\n",
				"repo/svc.yaml":                  svcYAML,
				"repo/skip.yaml":                 svcYAML,
			})
			x := &fakeExpander{}
			r := &Reader{Workers: workers, Expander: x, Exclude: []string{"skip.yaml"}}
			for range 2 { // a check walks twice
				got := flatten(r.Read(t.Context(), []string{"repo"}))
				want := readResult{
					Docs: []string{
						"repo/chart/templates/sts.yaml:3 apps/v1 StatefulSet data/redis *v1.StatefulSet",
						"repo/svc.yaml:1 v1 Service data/redis *v1.Service",
					},
					Errors: []string{
						`repo/.setwardenignore:4: negated patterns ("!keep.yaml") are not supported`,
						"repo/chart: one template does not render",
					},
					Notices: []string{
						"repo/.github/workflows/ci.yaml: " + notObjectNotice,
						"repo/list.yaml: " + notObjectNotice,
					},
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("walk (-want +got):\n%s", diff)
				}
			}
			// An expanded folder's files are not manifests to fix.
			wantFiles := []string{"repo/.github/workflows/ci.yaml", "repo/list.yaml", "repo/svc.yaml"}
			if files := r.Files(t.Context(), []string{"repo"}); !cmp.Equal(files, wantFiles) {
				t.Errorf("Files = %q, want %q", files, wantFiles)
			}
		})
	}
}
