package report

import (
	"fmt"
	"io"
	"strings"
)

// WriteBrief writes the input errors of r, one "FILE:LINE: error: ..."
// line each as the text output writes them, and a one-line summary. A check
// writes it to standard error when no text report goes to a standard
// stream (-o json, -o sarif=FILE), so that input errors are never silent.
func WriteBrief(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, e := range r.Errors {
		if at := place(e.File, e.Line); at != "" {
			b.WriteString(at + ": ")
		}
		fmt.Fprintf(&b, "error: %s\n", withObject(e))
	}
	b.WriteString(OneLineSummary(&r.Summary) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// OneLineSummary renders the counts of s on one line:
//
//	setwarden check: 3 objects read, 2 evaluated; findings: Deny 1, Warn 0, Audit 0, Mutate 0; input errors: 1
func OneLineSummary(s *Summary) string {
	actions := make([]string, len(actionOrder))
	for i, a := range actionOrder {
		actions[i] = fmt.Sprintf("%s %d", a, s.ByAction[a])
	}
	return fmt.Sprintf("setwarden check: %d objects read, %d evaluated; findings: %s; input errors: %d",
		s.Objects, s.Evaluated, strings.Join(actions, ", "), s.Errors)
}

// TextOnStream reports whether one of outs writes the text report to a
// standard stream, which shows the input errors and the summary already.
func TextOnStream(outs []Output) bool {
	for _, o := range outs {
		if o.Format == "text" && o.File == "" {
			return true
		}
	}
	return false
}
