package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
)

// Writer writes one output format while a check runs. The Builder calls
// Object once per evaluated object, in input order, then Finish once.
type Writer interface {
	// Object writes the results of one evaluated object, none when it
	// passed. The Builder reuses obj and results after the call.
	Object(obj *Checked, results []Result) error
	// Finish writes what follows the results, from the report's summary and
	// errors, and releases what the Writer holds, even after an error.
	Finish(r *Report) error
}

// discard is the Writer of a Builder that only counts.
type discard struct{}

func (discard) Object(*Checked, []Result) error { return nil }
func (discard) Finish(*Report) error            { return nil }

// spool keeps the part of an output that must wait for what precedes it
// (counts, input errors) in a temporary file rather than in memory. The
// file is created on the first write and removed by remove.
//
// It is kept for size: for JUnit, against encoding/xml writing the whole
// document from memory, measured: 23 MiB vs 84 MiB of peak heap (3.7x,
// growing with the objects), at 3.4 s vs 3.6 s, on
// BenchmarkCheckAllOutputs10k (10,000 generated objects, every format),
// 2026-12-07. YAML and SARIF hold back their results in it the same way.
type spool struct {
	pattern string
	f       *os.File
	bw      *bufio.Writer
	size    int64
}

func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil {
		f, err := os.CreateTemp("", s.pattern)
		if err != nil {
			return 0, err
		}
		s.f, s.bw = f, bufio.NewWriter(f)
	}
	n, err := s.bw.Write(p)
	s.size += int64(n)
	return n, err
}

// copyTo writes the n bytes at off of the spooled data to w.
func (s *spool) copyTo(w io.Writer, off, n int64) error {
	if n == 0 {
		return nil
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	_, err := io.Copy(w, io.NewSectionReader(s.f, off, n))
	return err
}

// remove closes and deletes the file, if one was created.
func (s *spool) remove() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); err == nil {
		err = rerr
	}
	s.f = nil
	return err
}

// jsonArray writes the items of a JSON array one at a time, each indented
// as encoding/json's SetIndent(prefix, "  ") renders it at its depth in
// the whole document, so that the streamed document is byte for byte the
// one encoding/json would write.
type jsonArray struct {
	w      io.Writer
	indent string // the items' own indentation
	n      int
	buf    bytes.Buffer
	enc    *json.Encoder
}

// newJSONArray returns a jsonArray for items at depth (the root object is
// at depth 0).
func newJSONArray(w io.Writer, depth int) *jsonArray {
	a := &jsonArray{w: w, indent: jsonIndent(depth)}
	a.enc = json.NewEncoder(&a.buf)
	a.enc.SetIndent(a.indent, "  ")
	a.enc.SetEscapeHTML(false) // "<stdin>" stays readable
	return a
}

// add writes v after a separator; the "[" before the first item is the
// caller's.
func (a *jsonArray) add(v any) error {
	a.buf.Reset()
	if a.n > 0 {
		a.buf.WriteByte(',')
	}
	a.buf.WriteByte('\n')
	a.buf.WriteString(a.indent)
	if err := a.enc.Encode(v); err != nil {
		return err
	}
	a.n++
	_, err := a.w.Write(bytes.TrimSuffix(a.buf.Bytes(), []byte("\n")))
	return err
}

// end returns the closing bracket: right after "[" when the array is
// empty, else on a line of its own.
func (a *jsonArray) end() string {
	if a.n == 0 {
		return "]"
	}
	return "\n" + a.indent[2:] + "]"
}

func jsonIndent(depth int) string {
	return string(bytes.Repeat([]byte("  "), depth))
}

// encodeIndented encodes v as a whole indented document, as the JSON and
// SARIF outputs are.
func encodeIndented(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return b.Bytes(), err
}
