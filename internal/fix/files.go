package fix

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/setwarden/setwarden/internal/manifest"
	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// maxStdinFix bounds the standard input --fix holds in memory to rewrite.
const maxStdinFix = manifest.MaxDocumentSize

// Files are the inputs of Apply.
type Files struct {
	// Engine decides the mutations.
	Engine *policies.Engine
	// Reader lists the files of the paths; its Stdin is standard input.
	Reader *manifest.Reader
	// Diff prints a unified diff of each change to Out instead of writing.
	Diff bool
	// Namespace is the namespace of the objects without one (kubectl's -n);
	// empty means "default".
	Namespace string
	// Out receives the fixed standard input, or the diffs; Log a line per
	// change written.
	Out, Log io.Writer
}

// Apply runs --fix before a check, so that the check reports what is left:
// it rewrites the input files in place, or with Diff prints what it would
// change. Standard input is fixed to Out, and the reader then reads the
// fixed stream. usedOut reports whether Out now carries a stream or a diff,
// so that a report must go elsewhere. A JSON file is left alone: kyaml would
// rewrite it as YAML; so are the items of a kind: List. notices name the
// agent DaemonSets in them that needed the tolerations.
func (o *Files) Apply(ctx context.Context, paths []string) (usedOut bool, errs, notices []report.Problem) {
	engine, reader := o.Engine, o.Reader
	for _, file := range reader.Files(ctx, paths) {
		data, err := os.ReadFile(file)
		if err != nil {
			continue // the check reports unreadable files
		}
		notices = append(notices, unfixable(engine, o.Namespace, file, data, isJSON(data))...)
		if isJSON(data) {
			continue // kyaml would rewrite it as YAML
		}
		fixed, changes, err := Stream(engine, o.Namespace, data)
		switch {
		case err != nil:
			errs = append(errs, report.Problem{File: file, Message: "--fix: " + err.Error()})
		case len(changes) == 0:
		case o.Diff:
			usedOut = true
			writeDiff(o.Out, file, data, fixed)
		default:
			if err := writeInPlace(file, fixed); err != nil {
				errs = append(errs, report.Problem{File: file, Message: "--fix: " + err.Error()})
				continue
			}
			logChanges(o.Log, file, changes)
		}
	}
	for _, p := range paths {
		if p == manifest.StdinPath && reader.Stdin != nil {
			if err := o.fixStdin(&notices); err != nil {
				errs = append(errs, report.Problem{File: manifest.StdinName, Message: "--fix: " + err.Error()})
			}
			usedOut = true
			break
		}
	}
	return usedOut, errs, notices
}

// fixStdin writes the fixed stream (or its diff) to standard output, and
// makes the check read the fixed stream.
func (o *Files) fixStdin(notices *[]report.Problem) error {
	engine, reader := o.Engine, o.Reader
	data, err := io.ReadAll(io.LimitReader(reader.Stdin, maxStdinFix+1))
	reader.Stdin = bytes.NewReader(data)
	if err != nil {
		return err
	}
	if len(data) > maxStdinFix {
		return fmt.Errorf("standard input is larger than %d MiB; fix files instead", maxStdinFix>>20)
	}
	*notices = append(*notices, unfixable(engine, o.Namespace, manifest.StdinName, data, false)...) // Stream edits JSON as YAML
	fixed, changes, err := Stream(engine, o.Namespace, data)
	if err != nil {
		return err
	}
	if o.Diff {
		writeDiff(o.Out, manifest.StdinName, data, fixed)
		return nil
	}
	reader.Stdin = bytes.NewReader(fixed)
	logChanges(o.Log, manifest.StdinName, changes)
	_, err = o.Out.Write(fixed)
	return err
}

func writeDiff(w io.Writer, file string, before, after []byte) {
	diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(before)), B: difflib.SplitLines(string(after)),
		FromFile: file, ToFile: file + " (fixed)", Context: 3,
	})
	io.WriteString(w, diff)
}

// writeInPlace replaces a file's content, keeping its permissions; it
// writes a temporary file first so that a failure leaves the file intact.
func writeInPlace(file string, data []byte) error {
	info, err := os.Stat(file)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(file)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(real), ".setwarden-fix-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), real)
}

func logChanges(w io.Writer, file string, changes []Change) {
	for _, c := range changes {
		fmt.Fprintf(w, "%s:%d: fixed %s\n", file, c.Line, c)
	}
}
