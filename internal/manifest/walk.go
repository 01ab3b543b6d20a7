package manifest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// IgnoreFile is the file at the root of a walked directory that lists the
// paths a walk skips, one glob per line, as .gitignore does.
const IgnoreFile = ".setwardenignore"

// notObjectNotice is the notice for a file met in a directory walk that
// holds YAML or JSON but no Kubernetes object: values files, CI workflows,
// tools' configuration.
const notObjectNotice = "skipped: not a Kubernetes object (no apiVersion and kind)"

// An Expander reads some directories as something else than their files: a
// Helm chart rendered, a kustomization built. A walk asks it about every
// directory it enters, the walked roots included.
type Expander interface {
	// Recognize reports whether dir, whose entries are given, is read as
	// its expansion instead of its files. It must be cheap.
	Recognize(dir string, entries []os.DirEntry) bool
	// Expand returns what dir is read as. A Reader walks its paths several
	// times (see Reader), so Expand should remember its results.
	Expand(ctx context.Context, dir string) Expansion
}

// Expansion is what an Expander reads a directory as.
type Expansion struct {
	// Files are read in order, each reported under its Name, which is best
	// the file the objects came from (a chart's template, a kustomization's
	// resource), so that findings point at it.
	Files []VirtualFile
	// Problems are input errors, such as a chart that does not render.
	Problems []Problem
	// Notices are files skipped on purpose, such as a library chart.
	Notices []Problem
}

// VirtualFile is an in-memory file that a walk reads under Name.
type VirtualFile struct {
	Name string
	Data []byte
}

// walkRoot is the directory named to a walk, with the paths it skips.
type walkRoot struct {
	dir   string
	rules []ignoreRule
}

// ignoreRule is one pattern of --exclude or of an ignore file.
type ignoreRule struct {
	segments []string // the glob, split on "/"
	dirOnly  bool     // a trailing "/": directories only
	// anchored rules match the path relative to the root; the others also
	// match any base name, as .gitignore patterns without a "/" do.
	anchored bool
}

// ValidateGlob reports whether pattern is a glob that --exclude and ignore
// files accept: path.Match syntax per segment, "**" for any number of
// segments, a trailing "/" for directories only.
func ValidateGlob(pattern string) error {
	if strings.Trim(pattern, "/") == "" {
		return fmt.Errorf("empty pattern %q", pattern)
	}
	for _, seg := range strings.Split(strings.Trim(pattern, "/"), "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("invalid pattern %q: %v", pattern, err)
		}
	}
	return nil
}

func newIgnoreRule(pattern string, anchored bool) ignoreRule {
	rule := ignoreRule{dirOnly: strings.HasSuffix(pattern, "/"), anchored: anchored}
	trimmed := strings.Trim(pattern, "/")
	// As in .gitignore, a "/" at the start or in the middle anchors the
	// pattern to the root.
	if strings.Contains(strings.TrimSuffix(pattern, "/"), "/") {
		rule.anchored = true
	}
	rule.segments = strings.Split(trimmed, "/")
	return rule
}

// matches reports whether the rule skips rel, a slash-separated path
// relative to the root.
func (r ignoreRule) matches(rel string, isDir bool) bool {
	if r.dirOnly && !isDir {
		return false
	}
	if matchSegments(r.segments, strings.Split(rel, "/")) {
		return true
	}
	return !r.anchored && matchSegments(r.segments, []string{path.Base(rel)})
}

// matchSegments matches path segments against glob segments, "**"
// standing for any number of segments.
func matchSegments(pattern, segs []string) bool {
	for len(pattern) > 0 {
		if pattern[0] == "**" {
			rest := pattern[1:]
			for i := 0; i <= len(segs); i++ {
				if matchSegments(rest, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pattern[0], segs[0]); !ok {
			return false
		}
		pattern, segs = pattern[1:], segs[1:]
	}
	return len(segs) == 0
}

// enterRoot starts the walk of a directory named in the paths: it reads its
// ignore file, reporting the lines it cannot use.
func (r *Reader) enterRoot(dir string, v *Visitor) {
	root := &walkRoot{dir: dir}
	for _, pattern := range r.Exclude {
		// --exclude matches the relative path and the base name.
		root.rules = append(root.rules, newIgnoreRule(pattern, false))
	}
	file := filepath.Join(dir, IgnoreFile)
	data, err := os.ReadFile(file)
	if err != nil {
		if !os.IsNotExist(err) {
			v.errorf(Source{File: file}, "%s", pathError(err))
		}
		r.root = root
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		pattern := strings.TrimSpace(sc.Text())
		switch {
		case pattern == "" || strings.HasPrefix(pattern, "#"):
			continue
		case strings.HasPrefix(pattern, "!"):
			v.errorf(Source{File: file, Line: line}, "negated patterns (%q) are not supported", pattern)
			continue
		}
		if err := ValidateGlob(pattern); err != nil {
			v.errorf(Source{File: file, Line: line}, "%v", err)
			continue
		}
		root.rules = append(root.rules, newIgnoreRule(pattern, false))
	}
	r.root = root
}

// excluded reports whether a walk skips the entry e at p.
func (r *Reader) excluded(p string, e os.DirEntry) bool {
	if r.root == nil || len(r.root.rules) == 0 {
		return false
	}
	rel, err := filepath.Rel(r.root.dir, p)
	if err != nil {
		return false
	}
	rel = filepath.ToSlash(rel)
	isDir := e.IsDir()
	if e.Type()&os.ModeSymlink != 0 {
		if info, err := os.Stat(p); err == nil {
			isDir = info.IsDir()
		}
	}
	for _, rule := range r.root.rules {
		if rule.matches(rel, isDir) {
			return true
		}
	}
	return false
}

// expandDir reads dir as its expansion when the Expander recognizes it, and
// reports whether it did.
func (r *Reader) expandDir(ctx context.Context, dir string, entries []os.DirEntry, v *Visitor) bool {
	if r.Expander == nil || !r.Expander.Recognize(dir, entries) {
		return false
	}
	if r.listing { // its files are not manifests to edit
		return true
	}
	x := r.Expander.Expand(ctx, dir)
	for _, p := range x.Problems {
		if v.Error != nil {
			v.Error(p)
		}
	}
	for _, p := range x.Notices {
		if v.Notice != nil {
			v.Notice(p)
		}
	}
	for _, f := range x.Files {
		if ctx.Err() != nil {
			return true
		}
		r.readStream(f.Name, bytes.NewReader(f.Data), false, v)
	}
	return true
}

// oneNoticePerFile passes the notice that a file holds no Kubernetes object
// once per file, however many such documents it holds.
func oneNoticePerFile(v *Visitor) *Visitor {
	if v.Notice == nil {
		return v
	}
	w := *v
	last := ""
	w.Notice = func(p Problem) {
		if p.Message == notObjectNotice {
			if p.File == last {
				return
			}
			last = p.File
		}
		v.Notice(p)
	}
	return &w
}
