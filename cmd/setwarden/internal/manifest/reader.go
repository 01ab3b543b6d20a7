// Package manifest reads Kubernetes manifests for the offline check: files,
// directories and stdin, multi-document YAML, JSON and Lists, each object
// with the file and line it came from. It also backs the policy engine's
// ClusterView with the Services and Nodes found in the input.
package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
)

// StdinPath is the path that names standard input.
const StdinPath = "-"

// StdinName is the file name reported for objects read from standard input.
const StdinName = "<stdin>"

// MaxFileSize bounds what is read from one file, so that a path such as
// /dev/zero fails instead of exhausting memory.
const MaxFileSize = 64 << 20

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
}

// Problem is an input error or a notice, with where it was found.
type Problem struct {
	Source
	Message string
}

// Bundle is everything read from the input.
type Bundle struct {
	// Documents are the objects read, in input order.
	Documents []Document
	// Errors are input errors: unreadable files, invalid YAML, objects that
	// cannot be decoded. Every other document is still read.
	Errors []Problem
	// Notices are files skipped on purpose, such as binary files found in a
	// directory.
	Notices []Problem
}

func (b *Bundle) addError(src Source, format string, args ...any) {
	b.Errors = append(b.Errors, Problem{Source: src, Message: fmt.Sprintf(format, args...)})
}

func (b *Bundle) addNotice(src Source, format string, args ...any) {
	b.Notices = append(b.Notices, Problem{Source: src, Message: fmt.Sprintf(format, args...)})
}

// Reader reads manifests from paths. Its zero value reads no stdin.
type Reader struct {
	// Stdin is read for the path "-".
	Stdin io.Reader

	bundle     *Bundle
	seenDirs   map[string]bool
	seenFiles  map[string]bool
	stdinTaken bool
}

// Read reads every path in order: "-" for stdin, a file whatever its name, or
// a directory, recursively, for its .yaml, .yml and .json files. It never
// stops at the first problem; problems are in the Bundle.
func (r *Reader) Read(ctx context.Context, paths []string) *Bundle {
	r.bundle = &Bundle{}
	r.seenDirs, r.seenFiles = map[string]bool{}, map[string]bool{}
	for _, p := range paths {
		if ctx.Err() != nil {
			r.bundle.addError(Source{File: p}, "not read: %v", context.Cause(ctx))
			continue
		}
		r.readPath(ctx, p)
	}
	return r.bundle
}

func (r *Reader) readPath(ctx context.Context, p string) {
	if p == StdinPath {
		r.readStdin()
		return
	}
	info, err := os.Stat(p)
	if err != nil {
		r.bundle.addError(Source{File: p}, "%s", pathError(err))
		return
	}
	if info.IsDir() {
		r.walkDir(ctx, p)
		return
	}
	// A file named explicitly is read whatever its kind: `-f <(helm template ...)`
	// is a pipe. Only directory walks skip FIFOs, which could block forever.
	if r.firstVisit(r.seenFiles, p) {
		r.readFile(p, false)
	}
}

func (r *Reader) readStdin() {
	src := Source{File: StdinName}
	if r.stdinTaken {
		r.bundle.addError(src, "standard input is named more than once")
		return
	}
	r.stdinTaken = true
	if r.Stdin == nil {
		r.bundle.addError(src, "no standard input")
		return
	}
	data, err := readLimited(r.Stdin)
	if err != nil {
		r.bundle.addError(src, "%v", err)
		return
	}
	r.readData(StdinName, data, false)
}

// walkDir reads a directory's manifests recursively, in lexical order. It
// follows symbolic links but reads each real directory and file only once,
// which also ends symlink loops.
func (r *Reader) walkDir(ctx context.Context, dir string) {
	if !r.firstVisit(r.seenDirs, dir) {
		r.bundle.addNotice(Source{File: dir}, "skipped: directory already read (a symbolic link loop or a second link to it)")
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		r.bundle.addError(Source{File: dir}, "%s", pathError(err))
	}
	for _, e := range entries {
		if ctx.Err() != nil {
			return
		}
		p := filepath.Join(dir, e.Name())
		info, err := os.Stat(p) // follows symbolic links
		switch {
		case err != nil:
			if hasManifestExt(p) || e.IsDir() {
				r.bundle.addError(Source{File: p}, "%s", pathError(err))
			}
		case info.IsDir():
			r.walkDir(ctx, p)
		case !hasManifestExt(p):
		case !info.Mode().IsRegular():
			r.bundle.addNotice(Source{File: p}, "skipped: not a regular file")
		case r.firstVisit(r.seenFiles, p):
			r.readFile(p, true)
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

func (r *Reader) readFile(p string, inDir bool) {
	f, err := os.Open(p)
	if err != nil {
		r.bundle.addError(Source{File: p}, "%s", pathError(err))
		return
	}
	defer f.Close()
	data, err := readLimited(f)
	if err != nil {
		r.bundle.addError(Source{File: p}, "%v", err)
		return
	}
	r.readData(p, data, inDir)
}

func readLimited(in io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(in, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d MiB; split it", MaxFileSize>>20)
	}
	return data, nil
}

// readData reads the objects of one file. Binary files met in a directory
// walk are skipped with a notice; named explicitly, they are an error.
func (r *Reader) readData(file string, data []byte, inDir bool) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		if inDir {
			r.bundle.addNotice(Source{File: file}, "skipped: not UTF-8 text")
		} else {
			r.bundle.addError(Source{File: file}, "not UTF-8 text")
		}
		return
	}
	defer func() {
		// The decoders are not ours; a panic in one must not lose the report.
		if p := recover(); p != nil {
			r.bundle.addError(Source{File: file}, "internal error while reading: %v", p)
		}
	}()
	if looksLikeJSON(data) && r.readJSON(file, data, strings.EqualFold(filepath.Ext(file), ".json")) {
		return
	}
	r.readYAML(file, data)
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

func looksLikeJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// readJSON reads a stream of JSON values. When the first value is not valid
// JSON and the file is not named .json, it reports false so that the caller
// reads the file as YAML (a YAML flow mapping also starts with '{').
func (r *Reader) readJSON(file string, data []byte, isJSONFile bool) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	for first := true; ; first = false {
		start := int(dec.InputOffset())
		start += len(data[start:]) - len(bytes.TrimLeft(data[start:], " \t\r\n"))
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			if first && !isJSONFile {
				return false
			}
			off := start
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				off = int(syn.Offset)
			}
			r.bundle.addError(Source{File: file, Line: lineAt(data, off)}, "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
			return true // a JSON stream cannot resynchronise after a syntax error
		}
		r.bundle.decodeObject(Source{File: file, Line: lineAt(data, start)}, raw, 0)
	}
}

func lineAt(data []byte, off int) int {
	off = min(max(off, 0), len(data))
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// separator matches a YAML document start ("---", possibly followed by a
// comment or content) or end ("...") line.
var separator = regexp.MustCompile(`^(---|\.\.\.)(\s|$)`)

// readYAML splits a multi-document YAML file on its separator lines and
// decodes each document. A document's line is that of its first line that is
// neither blank nor a comment, which is where its object starts; its errors
// are reported at the line go-yaml names.
func (r *Reader) readYAML(file string, data []byte) {
	lines := strings.SplitAfter(string(data), "\n")
	var chunk strings.Builder
	chunkLine, objLine := 1, 0
	flush := func() {
		if objLine > 0 {
			r.bundle.decodeYAMLDocument(Source{File: file, Line: objLine}, chunkLine, []byte(chunk.String()))
		}
		chunk.Reset()
		objLine = 0
	}
	for i, line := range lines {
		if m := separator.FindStringSubmatch(line); m != nil {
			flush()
			chunkLine = i + 1
			line = strings.TrimLeft(line[len(m[1]):], " \t") // keep what follows "---", such as a comment
		}
		chunk.WriteString(line)
		if t := strings.TrimSpace(line); objLine == 0 && t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "%") {
			objLine = i + 1
		}
	}
	flush()
}
