package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Formats are the report formats, the values of --output.
var Formats = []string{"text", "json", "yaml", "sarif", "junit"}

// Output is one --output value: a format and the file it goes to ("" for
// standard output).
type Output struct {
	Format string
	File   string
}

// ParseOutputs parses --output values (FORMAT or FORMAT=FILE); none means
// text on standard output.
func ParseOutputs(values []string) ([]Output, error) {
	if len(values) == 0 {
		values = []string{"text"}
	}
	var outs []Output
	toStdout := 0
	for _, v := range values {
		format, file, _ := strings.Cut(v, "=")
		if !slices.Contains(Formats, format) {
			return nil, fmt.Errorf("--output %q is not supported; use %s, optionally followed by =FILE", v, strings.Join(Formats, ", "))
		}
		if strings.Contains(v, "=") && file == "" {
			return nil, fmt.Errorf("--output %q names no file after =", v)
		}
		if file == "" {
			toStdout++
		}
		if file != "" && slices.ContainsFunc(outs, func(o Output) bool { return filepath.Clean(o.File) == filepath.Clean(file) }) {
			return nil, fmt.Errorf("--output %q names a file another --output writes: give each report its own file", v)
		}
		outs = append(outs, Output{Format: format, File: file})
	}
	if toStdout > 1 {
		return nil, errors.New("at most one --output may go to standard output; send the others to files with FORMAT=FILE")
	}
	return outs, nil
}

// openOutput is an output being written while the check runs.
type openOutput struct {
	Output
	w   Writer
	f   *os.File // nil for stdout
	err error    // the first error; nothing more is written after it
}

// Outputs write every output while a check runs: each object's results go
// to all of them at once. An output that fails, from creating its file on,
// is reported at the end and does not stop the others.
type Outputs []*openOutput

var _ Writer = Outputs(nil)

// OpenOutputs creates the output files and a writer for each output; text
// on stdout is coloured on a terminal (see ColorTerminal).
func OpenOutputs(outs []Output, failOn FailOn, stdout io.Writer) Outputs {
	set := make(Outputs, len(outs))
	for i, o := range outs {
		oo := &openOutput{Output: o}
		set[i] = oo
		if o.File == "" {
			oo.w = newWriter(o.Format, stdout, failOn, o.Format == "text" && ColorTerminal(stdout))
			continue
		}
		f, err := os.Create(o.File)
		if err != nil {
			oo.err = fmt.Errorf("writing the %s report: %w", o.Format, err)
			continue
		}
		oo.f = f
		oo.w = newWriter(o.Format, f, failOn, false) // never colour in a file
	}
	return set
}

func newWriter(format string, w io.Writer, failOn FailOn, color bool) Writer {
	switch format {
	case "json":
		return NewJSON(w)
	case "yaml":
		return NewYAML(w)
	case "sarif":
		return NewSARIF(w)
	case "junit":
		return NewJUnit(w, failOn)
	}
	return NewText(w, color)
}

// NeedsRules reports whether an output lists every object with the rules
// enabled for it (JUnit's testcases).
func (s Outputs) NeedsRules() bool {
	return slices.ContainsFunc(s, func(o *openOutput) bool { return o.Format == "junit" })
}

// Files returns the files the outputs are written to, which a check must
// not read as input.
func (s Outputs) Files() []os.FileInfo {
	var files []os.FileInfo
	for _, o := range s {
		if o.f == nil {
			continue
		}
		if info, err := o.f.Stat(); err == nil {
			files = append(files, info)
		}
	}
	return files
}

// Object implements Writer; the outputs' errors wait for Finish.
func (s Outputs) Object(obj *Checked, results []Result) error {
	for _, o := range s {
		if o.err == nil {
			o.fail(o.w.Object(obj, results))
		}
	}
	return nil
}

// Finish implements Writer: it finishes and closes every output, even one
// that failed, and returns all of their errors.
func (s Outputs) Finish(rep *Report) error {
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
	if o.File == "" {
		o.err = fmt.Errorf("writing the %s report: %w", o.Format, err)
	} else {
		o.err = fmt.Errorf("writing the %s report to %s: %w", o.Format, o.File, err)
	}
}

// ColorTerminal reports whether the text report on w is coloured: on a
// terminal, unless NO_COLOR is set to a non-empty value (https://no-color.org)
// or TERM is "dumb" (a terminal without escape sequences, such as Emacs's).
func ColorTerminal(w io.Writer) bool {
	return colorAllowed() && isTerminal(w)
}

// colorAllowed reports whether the environment lets a terminal be coloured.
func colorAllowed() bool {
	return os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
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
