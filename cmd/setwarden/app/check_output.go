package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/setwarden/setwarden/cmd/setwarden/internal/report"
)

// outputFormats are the formats of check's --output flag.
var outputFormats = []string{"text", "json", "yaml", "sarif", "junit"}

// output is one -o value: a format and where it goes ("" for stdout).
type output struct {
	format string
	file   string
}

// needsRules reports whether the format lists every object and rule,
// which needs the rules enabled for each object.
func (o output) needsRules() bool { return o.format == "junit" }

// parseOutputs parses the -o values; none means text on stdout.
func parseOutputs(values []string) ([]output, error) {
	if len(values) == 0 {
		values = []string{"text"}
	}
	var outs []output
	toStdout := 0
	for _, v := range values {
		format, file, _ := strings.Cut(v, "=")
		if !slices.Contains(outputFormats, format) {
			return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("--output %q is not supported; use %s, optionally followed by =FILE", v, strings.Join(outputFormats, ", "))}
		}
		if strings.Contains(v, "=") && file == "" {
			return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("--output %q names no file after =", v)}
		}
		if file == "" {
			toStdout++
		}
		if file != "" && slices.ContainsFunc(outs, func(o output) bool { return filepath.Clean(o.file) == filepath.Clean(file) }) {
			return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("--output %q names a file another --output writes: give each report its own file", v)}
		}
		outs = append(outs, output{format: format, file: file})
	}
	if toStdout > 1 {
		return nil, &exitError{code: ExitUsage, msg: "at most one --output may go to standard output; send the others to files with FORMAT=FILE"}
	}
	return outs, nil
}

// openOutput is an output being written while the check runs.
type openOutput struct {
	output
	w   report.Writer
	f   *os.File // nil for stdout
	err error    // the first error; nothing more is written after it
}

// outputSet writes every output while the check runs: it hands each
// object's results to all of them at once. An output that fails, from
// creating its file on, is reported at the end and does not stop the others.
type outputSet []*openOutput

// openOutputs creates the output files and a writer for each output.
func openOutputs(outs []output, failOn report.FailOn, stdout io.Writer) outputSet {
	set := make(outputSet, len(outs))
	for i, o := range outs {
		oo := &openOutput{output: o}
		set[i] = oo
		if o.file == "" {
			oo.w = newWriter(o.format, stdout, failOn, o.format == "text" && colorTerminal(stdout))
			continue
		}
		f, err := os.Create(o.file)
		if err != nil {
			oo.err = fmt.Errorf("writing the %s report: %w", o.format, err)
			continue
		}
		oo.f = f
		oo.w = newWriter(o.format, f, failOn, false) // never colour in a file
	}
	return set
}

func newWriter(format string, w io.Writer, failOn report.FailOn, color bool) report.Writer {
	switch format {
	case "json":
		return report.NewJSON(w)
	case "yaml":
		return report.NewYAML(w)
	case "sarif":
		return report.NewSARIF(w)
	case "junit":
		return report.NewJUnit(w, failOn)
	}
	return report.NewText(w, color)
}

// needsRules reports whether an output needs each object's enabled rules.
func (s outputSet) needsRules() bool {
	return slices.ContainsFunc(s, func(o *openOutput) bool { return o.needsRules() })
}

// ownFiles returns the files the outputs go to, which the check must not
// read as input.
func (s outputSet) ownFiles() *ownFiles {
	own := &ownFiles{seen: map[string]bool{}}
	for _, o := range s {
		if o.f == nil {
			continue
		}
		if info, err := o.f.Stat(); err == nil {
			own.outputs = append(own.outputs, info)
		}
	}
	return own
}

// Object implements report.Writer; the outputs' errors wait for Finish.
func (s outputSet) Object(obj *report.Checked, results []report.Result) error {
	for _, o := range s {
		if o.err == nil {
			o.fail(o.w.Object(obj, results))
		}
	}
	return nil
}

// Finish implements report.Writer: it finishes and closes every output,
// even one that failed, and returns all of their errors.
func (s outputSet) Finish(rep *report.Report) error {
	var errs []error
	for _, o := range s {
		if o.w != nil {
			o.fail(o.w.Finish(rep))
		}
		if o.f != nil {
			o.fail(o.f.Close())
		}
		if o.err != nil {
			errs = append(errs, o.err)
		}
	}
	return errors.Join(errs...)
}

// fail records err, if it is the output's first.
func (o *openOutput) fail(err error) {
	if err == nil || o.err != nil {
		return
	}
	if o.file == "" {
		o.err = fmt.Errorf("writing the %s report: %w", o.format, err)
	} else {
		o.err = fmt.Errorf("writing the %s report to %s: %w", o.format, o.file, err)
	}
}

// colorTerminal reports whether the text report on w is coloured: on a
// terminal, unless NO_COLOR is set to a non-empty value (https://no-color.org).
func colorTerminal(w io.Writer) bool {
	return os.Getenv("NO_COLOR") == "" && isTerminal(w)
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
