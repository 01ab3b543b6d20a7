package app

import (
	"errors"
	"fmt"
	"io"
	"os"
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
	render func(io.Writer, *report.Report) error
}

// needsChecked reports whether the format lists every object and rule,
// which makes the report keep one entry per evaluated object.
func (o output) needsChecked() bool { return o.format == "junit" }

// parseOutputs parses the -o values; none means text on stdout.
func parseOutputs(values []string, failOn report.FailOn) ([]output, error) {
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
		outs = append(outs, output{format: format, file: file, render: renderer(format, failOn)})
	}
	if toStdout > 1 {
		return nil, &exitError{code: ExitUsage, msg: "at most one --output may go to standard output; send the others to files with FORMAT=FILE"}
	}
	return outs, nil
}

func renderer(format string, failOn report.FailOn) func(io.Writer, *report.Report) error {
	switch format {
	case "json":
		return report.JSON
	case "yaml":
		return report.YAML
	case "sarif":
		return report.SARIF
	case "junit":
		return report.JUnit(failOn)
	}
	return nil // text: chosen at write time, by terminal
}

// writeOutputs writes every output, all of them even when one fails.
func writeOutputs(outs []output, rep *report.Report, stdout io.Writer) error {
	var errs []error
	for _, o := range outs {
		if err := o.write(rep, stdout); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (o output) write(rep *report.Report, stdout io.Writer) error {
	render := o.render
	if o.file == "" {
		if render == nil {
			render = textRenderer(stdout)
		}
		if err := render(stdout, rep); err != nil {
			return fmt.Errorf("writing the %s report: %w", o.format, err)
		}
		return nil
	}
	if render == nil {
		render = report.Text // never colour in a file
	}
	f, err := os.Create(o.file)
	if err != nil {
		return fmt.Errorf("writing the %s report: %w", o.format, err)
	}
	err = render(f, rep)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the %s report to %s: %w", o.format, o.file, err)
	}
	return nil
}

// textRenderer colours the text report on a terminal, unless NO_COLOR is
// set to a non-empty value (https://no-color.org).
func textRenderer(w io.Writer) func(io.Writer, *report.Report) error {
	if os.Getenv("NO_COLOR") == "" && isTerminal(w) {
		return report.ColorText
	}
	return report.Text
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
