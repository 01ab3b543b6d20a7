// Package manifest reads Kubernetes manifests for the offline check: files,
// directories and stdin, multi-document YAML, JSON and Lists, each object
// with the file and line it came from. It streams: documents are decoded, on
// every core, and handed to a Visitor one at a time in input order, with only
// a few in flight, so memory does not grow with the number of objects. It
// also backs the policy engine's ClusterView with the Services and Nodes
// found in the input.
package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// StdinPath is the path that names standard input.
const StdinPath = "-"

// StdinName is the file name reported for objects read from standard input.
const StdinName = "<stdin>"

// MaxDocumentSize bounds one document (and one JSON file, which is read
// whole), so that a path such as /dev/zero fails instead of exhausting
// memory. Streams of YAML documents may be longer.
const MaxDocumentSize = 64 << 20

// Source is where an object starts: its file and 1-based line. Line is 0
// when a problem concerns a whole file.
type Source struct {
	File string
	Line int
}

// String renders the source as compilers do: "file:line" or "file".
func (s Source) String() string {
	if s.Line == 0 {
		return s.File
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// Document is one object read from the input.
type Document struct {
	Source
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// Object is the typed object for the kinds setwarden decodes (workloads,
	// Services, Nodes), nil for every other kind.
	Object runtime.Object
	// FieldErrors are Object's unknown and duplicate fields, with their
	// paths as the API server's strict field validation names them.
	FieldErrors field.ErrorList
	// Raw is the text of the YAML document or JSON value the object was
	// decoded from, and RawLine the file line of its first line. Raw is only
	// valid during the Visitor call: the reader reuses its buffer.
	Raw     []byte
	RawLine int
	// InList is set for the items of a List, whose Raw is the whole List.
	InList bool
	// Prepared is what Visitor.Prepare returned for the document, if set.
	Prepared any
	// fastYAML is set when the fast YAML path converted Raw, so that a
	// FieldLocator can walk its lines without checking it again.
	fastYAML bool
}

// Problem is an input error or a notice, with where it was found.
type Problem struct {
	Source
	Message string
}

// Visitor receives what a Reader reads, in input order. Nil funcs ignore.
type Visitor struct {
	// Filter, when set, is called with each document's text before it is
	// decoded; documents it rejects are skipped silently. It makes a cheap
	// pass over the input, such as indexing Services and Nodes, cheaper.
	// With workers, it runs on the calling goroutine as each document is
	// read, which may be before the callbacks of the documents before it.
	Filter func(raw []byte) bool
	// Prepare, when set, is called with each object read on the goroutine
	// that decoded it, one of the reader's workers, and its result is set
	// as the Document's Prepared: the work on a document that does not need
	// input order, such as judging it, is spread over the cores as well.
	// It must be safe for concurrent use, and must not keep Raw. Documents
	// decoded on the calling goroutine may reach Document unprepared.
	Prepare func(*Document) any
	// Document receives each object read, in input order.
	Document func(*Document)
	// Error receives input errors: unreadable files, invalid YAML, objects
	// that cannot be decoded. Reading goes on after each.
	Error func(Problem)
	// Notice receives files skipped on purpose, such as binary files found
	// in a directory.
	Notice func(Problem)
}

func (v *Visitor) errorf(src Source, format string, args ...any) {
	if v.Error != nil {
		v.Error(Problem{Source: src, Message: fmt.Sprintf(format, args...)})
	}
}

func (v *Visitor) noticef(src Source, format string, args ...any) {
	if v.Notice != nil {
		v.Notice(Problem{Source: src, Message: fmt.Sprintf(format, args...)})
	}
}

// Reader reads manifests from paths. Its zero value reads no stdin. A Reader
// may walk the same paths several times (the check makes an indexing pass
// before the evaluating one): standard input is then spooled to a temporary
// file on the first walk, so call Close when done.
type Reader struct {
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Virtual maps paths to in-memory content, such as a kustomization
	// built in-process; such a path is reported under its key.
	Virtual map[string][]byte
	// Workers is how many goroutines decode documents at once: 0 means
	// runtime.GOMAXPROCS(0), and 1 decodes each document on the calling
	// goroutine as it is read. Either way the Visitor is called on the
	// calling goroutine, in input order.
	Workers int
	// Exclude are globs of paths that directory walks skip, matched against
	// the path relative to the walked directory and against the base name
	// (see ValidateGlob); an IgnoreFile at the root of a walked directory
	// adds its own.
	Exclude []string
	// Expander, when set, reads some directories as something else than
	// their files, such as Helm charts and kustomizations.
	Expander Expander

	root       *walkRoot // the walked directory, during its walk
	spool      *os.File  // standard input, once read
	spoolErr   error
	seenDirs   map[string]bool
	seenFiles  map[string]bool
	stdinTaken bool
	listOnly   []string // set by Files
	listing    bool
	queue      *queue // during a Walk with workers
}

// Close removes the spooled copy of standard input, if any.
func (r *Reader) Close() error {
	if r.spool == nil {
		return nil
	}
	r.spool.Close()
	return os.Remove(r.spool.Name())
}

// Walk reads every path in order: "-" for stdin, a file whatever its name,
// or a directory, recursively, for its .yaml, .yml and .json files. In a
// directory, files without any Kubernetes object are skipped with a notice,
// the paths that Exclude and the root's IgnoreFile name are skipped, and the
// directories the Expander recognizes are read as their expansion. It never
// stops at the first problem; problems go to the Visitor.
func (r *Reader) Walk(ctx context.Context, paths []string, v *Visitor) {
	r.seenDirs, r.seenFiles, r.stdinTaken, r.queue = map[string]bool{}, map[string]bool{}, false, nil
	v = oneNoticePerFile(v)
	if workers := r.workers(); workers > 1 && !r.listing {
		p := newPool(workers)
		defer p.stop() // also when a callback ends the goroutine, as t.Fatal does
		r.queue = newQueue(p, v)
		v = r.queue.problemVisitor()
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			v.errorf(Source{File: p}, "not read: %v", context.Cause(ctx))
			continue
		}
		r.readPath(ctx, p, v)
	}
	if r.queue != nil {
		r.queue.finish()
		r.queue = nil
	}
}

func (r *Reader) workers() int {
	if r.Workers > 0 {
		return r.Workers
	}
	return goruntime.GOMAXPROCS(0)
}

// Files returns the regular files a Walk of paths would read, without "-"
// and virtual paths, for commands such as `check --fix` that rewrite them.
func (r *Reader) Files(ctx context.Context, paths []string) []string {
	r.listing, r.listOnly = true, nil
	defer func() { r.listing = false }()
	var notStdin []string
	for _, p := range paths {
		if p != StdinPath && r.Virtual[p] == nil {
			notStdin = append(notStdin, p)
		}
	}
	r.Walk(ctx, notStdin, &Visitor{})
	return r.listOnly
}

func (r *Reader) readPath(ctx context.Context, p string, v *Visitor) {
	if data, ok := r.Virtual[p]; ok {
		r.readStream(p, bytes.NewReader(data), false, v)
		return
	}
	if p == StdinPath {
		r.readStdin(v)
		return
	}
	info, err := os.Stat(p)
	if err != nil {
		v.errorf(Source{File: p}, "%s", pathError(err))
		return
	}
	if info.IsDir() {
		r.enterRoot(p, v)
		r.walkDir(ctx, p, v)
		r.root = nil
		return
	}
	// A file named explicitly is read whatever its kind: `-f <(helm template ...)`
	// is a pipe. Only directory walks skip FIFOs, which could block forever.
	if r.firstVisit(r.seenFiles, p) {
		r.readFile(p, false, v)
	}
}

func (r *Reader) readStdin(v *Visitor) {
	src := Source{File: StdinName}
	if r.stdinTaken {
		v.errorf(src, "standard input is named more than once")
		return
	}
	r.stdinTaken = true
	if r.Stdin == nil {
		v.errorf(src, "no standard input")
		return
	}
	if err := r.spoolStdin(); err != nil {
		v.errorf(src, "cannot read: %v", err)
		return
	}
	if _, err := r.spool.Seek(0, io.SeekStart); err != nil {
		v.errorf(src, "cannot read: %v", err)
		return
	}
	r.readStream(StdinName, r.spool, false, v)
}

// spoolStdin copies standard input to a temporary file once, so that every
// walk reads the same bytes without holding them in memory.
func (r *Reader) spoolStdin() error {
	if r.spool != nil || r.spoolErr != nil {
		return r.spoolErr
	}
	f, err := os.CreateTemp("", "setwarden-stdin-*.yaml")
	if err != nil {
		r.spoolErr = err
		return err
	}
	r.spool = f
	if _, err := io.Copy(f, r.Stdin); err != nil {
		r.spoolErr = err
	}
	return r.spoolErr
}

// walkDir reads a directory's manifests recursively, in lexical order. It
// follows symbolic links but reads each real directory and file only once,
// which also ends symlink loops.
func (r *Reader) walkDir(ctx context.Context, dir string, v *Visitor) {
	if !r.firstVisit(r.seenDirs, dir) {
		v.noticef(Source{File: dir}, "skipped: directory already read (a symbolic link loop or a second link to it)")
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		v.errorf(Source{File: dir}, "%s", pathError(err))
	}
	if r.expandDir(ctx, dir, entries, v) {
		return
	}
	for _, e := range entries {
		if ctx.Err() != nil {
			return
		}
		p := filepath.Join(dir, e.Name())
		if r.excluded(p, e) {
			continue
		}
		info, err := os.Stat(p) // follows symbolic links
		switch {
		case err != nil:
			if hasManifestExt(p) || e.IsDir() {
				v.errorf(Source{File: p}, "%s", pathError(err))
			}
		case info.IsDir():
			r.walkDir(ctx, p, v)
		case !hasManifestExt(p):
		case !info.Mode().IsRegular():
			v.noticef(Source{File: p}, "skipped: not a regular file")
		case r.firstVisit(r.seenFiles, p):
			r.readFile(p, true, v)
		}
	}
}

// firstVisit records the real path of p and reports whether it is new.
func (r *Reader) firstVisit(seen map[string]bool, p string) bool {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		real = p
	}
	if abs, err := filepath.Abs(real); err == nil {
		real = abs
	}
	if seen[real] {
		return false
	}
	seen[real] = true
	return true
}

func (r *Reader) readFile(p string, inDir bool, v *Visitor) {
	if r.listing {
		r.listOnly = append(r.listOnly, p)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		v.errorf(Source{File: p}, "%s", pathError(err))
		return
	}
	defer f.Close()
	r.readStream(p, f, inDir, v)
}

func hasManifestExt(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func pathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
