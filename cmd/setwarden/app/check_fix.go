package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/setwarden/setwarden/cmd/setwarden/internal/fix"
	"github.com/setwarden/setwarden/cmd/setwarden/internal/manifest"
	"github.com/setwarden/setwarden/cmd/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// maxStdinFix bounds the standard input --fix holds in memory to rewrite.
const maxStdinFix = manifest.MaxDocumentSize

// applyFixes runs --fix before the check, so that the check reports what is
// left: it rewrites the input files in place, or with --diff prints what it
// would change. Standard input is fixed to standard output, and the check
// then reads the fixed stream. usedStdout reports whether standard output
// now carries a stream or a diff, so that the report must go elsewhere.
func (o *checkOptions) applyFixes(ctx context.Context, engine *policies.Engine, reader *manifest.Reader, paths []string,
	streams Streams) (usedStdout bool, errs []report.Problem) {
	for _, file := range reader.Files(ctx, paths) {
		data, err := os.ReadFile(file)
		if err != nil {
			continue // the check reports unreadable files
		}
		if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
			continue // JSON: kyaml would rewrite it as YAML
		}
		fixed, changes, err := fix.Stream(engine, data)
		switch {
		case err != nil:
			errs = append(errs, report.Problem{File: file, Message: "--fix: " + err.Error()})
		case len(changes) == 0:
		case o.diff:
			usedStdout = true
			writeDiff(streams.Out, file, data, fixed)
		default:
			if err := writeInPlace(file, fixed); err != nil {
				errs = append(errs, report.Problem{File: file, Message: "--fix: " + err.Error()})
				continue
			}
			logChanges(streams.ErrOut, file, changes)
		}
	}
	for _, p := range paths {
		if p == manifest.StdinPath && streams.In != nil {
			if err := o.fixStdin(engine, reader, streams); err != nil {
				errs = append(errs, report.Problem{File: manifest.StdinName, Message: "--fix: " + err.Error()})
			}
			usedStdout = true
			break
		}
	}
	return usedStdout, errs
}

// fixStdin writes the fixed stream (or its diff) to standard output, and
// makes the check read the fixed stream.
func (o *checkOptions) fixStdin(engine *policies.Engine, reader *manifest.Reader, streams Streams) error {
	data, err := io.ReadAll(io.LimitReader(streams.In, maxStdinFix+1))
	reader.Stdin = bytes.NewReader(data)
	if err != nil {
		return err
	}
	if len(data) > maxStdinFix {
		return fmt.Errorf("standard input is larger than %d MiB; fix files instead", maxStdinFix>>20)
	}
	fixed, changes, err := fix.Stream(engine, data)
	if err != nil {
		return err
	}
	if o.diff {
		writeDiff(streams.Out, manifest.StdinName, data, fixed)
		return nil
	}
	reader.Stdin = bytes.NewReader(fixed)
	logChanges(streams.ErrOut, manifest.StdinName, changes)
	_, err = streams.Out.Write(fixed)
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

func logChanges(w io.Writer, file string, changes []fix.Change) {
	for _, c := range changes {
		fmt.Fprintf(w, "%s:%d: fixed %s\n", file, c.Line, c)
	}
}

// buildKustomizations builds each -k directory in-process, as kubectl
// kustomize does, and adds its output to the input under the name
// "kustomize:DIR"; lines then count in the built stream.
func (o *checkOptions) buildKustomizations(reader *manifest.Reader, paths []string) ([]string, []report.Problem) {
	var errs []report.Problem
	for _, dir := range o.kustomizeDirs {
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
