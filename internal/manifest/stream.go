package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/setwarden/setwarden/internal/fastyaml"
)

// sniffSize is how much of a file is looked at to tell text from binary,
// as git and grep do; later documents are checked one by one.
const sniffSize = 8 << 10

var byteOrderMark = []byte("\xef\xbb\xbf")

// readStream reads the objects of one file or stream. Binary files met in a
// directory walk are skipped with a notice; named explicitly, they are an
// error.
func (r *Reader) readStream(file string, in io.Reader, inDir bool, v *Visitor) {
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(sniffSize) // a read error shows up again below
	if bytes.HasPrefix(head, byteOrderMark) {
		br.Discard(len(byteOrderMark))
		head = head[len(byteOrderMark):]
	}
	if isBinary(head, len(head) < sniffSize-len(byteOrderMark)) {
		if inDir {
			v.noticef(Source{File: file}, "skipped: not UTF-8 text")
		} else {
			v.errorf(Source{File: file}, "not UTF-8 text")
		}
		return
	}
	out := r.newDocSink(file, inDir, v)
	defer out.end()
	defer func() {
		// The decoders are not ours; a panic in one must not lose the report.
		if p := recover(); p != nil {
			out.panicked(p)
		}
	}()
	if !looksLikeJSON(head) {
		readYAML(file, br, 1, out)
		return
	}
	// A JSON stream cannot be split on lines, so it is read whole.
	data, err := readLimited(br)
	if err != nil {
		v.errorf(Source{File: file}, "%v", err)
		return
	}
	if !readJSON(file, data, strings.EqualFold(filepath.Ext(file), ".json"), out) {
		readYAML(file, bufio.NewReader(bytes.NewReader(data)), 1, out)
	}
}

// isBinary reports whether head, the start of a file (all of it when
// complete), holds a NUL byte or is not UTF-8.
func isBinary(head []byte, complete bool) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	if !complete {
		// The sniffed prefix may end in the middle of a character.
		if cut := lastRuneStart(head); cut >= 0 && !utf8.FullRune(head[cut:]) {
			head = head[:cut]
		}
	}
	return !utf8.Valid(head)
}

// lastRuneStart returns the index of the last byte that starts a character.
func lastRuneStart(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return -1
}

func readLimited(in io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(in, MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("larger than %d MiB; split it", MaxDocumentSize>>20)
	}
	return data, nil
}

func looksLikeJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// readJSON reads a stream of JSON values. When the first value is not valid
// JSON and the file is not named .json, it reports false so that the caller
// reads the file as YAML (a YAML flow mapping also starts with '{').
//
// Like kubectl's decoder (k8s.io/apimachinery/pkg/util/yaml's
// YAMLOrJSONDecoder), a stream is JSON for sure only once two values have
// been read: when the second does not follow the first, the rest of the
// stream is read as YAML, so that JSON documents separated by "---" lines
// (what kubectl apply -f reads, and what tools that print JSON per document
// write) are read as kubectl reads them.
func readJSON(file string, data []byte, isJSONFile bool, out *docSink) bool {
	v := out.v
	dec := json.NewDecoder(bytes.NewReader(data))
	end := 0 // of the last value read
	for count := 0; ; count++ {
		start := int(dec.InputOffset())
		start += len(data[start:]) - len(bytes.TrimLeft(data[start:], " \t\r\n"))
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			switch {
			case count == 0 && !isJSONFile:
				return false
			case count == 1: // kubectl resumes after the first value
				readYAML(file, bufio.NewReader(bytes.NewReader(data[end:])), lineAt(data, end), out)
				return true
			}
			off := start
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				off = int(syn.Offset)
			}
			v.errorf(Source{File: file, Line: lineAt(data, off)}, "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
			return true // a JSON stream cannot resynchronise after a syntax error
		}
		end = int(dec.InputOffset())
		if v.Filter != nil && !v.Filter(raw) {
			continue
		}
		line := lineAt(data, start)
		out.jsonValue(Source{File: file, Line: line}, raw)
	}
}

func lineAt(data []byte, off int) int {
	off = min(max(off, 0), len(data))
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// yamlSplitter cuts a YAML stream into documents on its separator lines,
// line by line, so that a stream of any length is read in constant memory.
// A document's line is that of its first line that is neither blank nor a
// comment, which is where its object starts.
type yamlSplitter struct {
	file      string
	v         *Visitor
	out       *docSink
	doc       []byte
	chunkLine int // file line of doc's first line
	objLine   int // file line of the object's first line; 0 while none
	tooLarge  bool
}

// readYAML reads a multi-document YAML stream whose first line is line
// firstLine of the file.
func readYAML(file string, br *bufio.Reader, firstLine int, out *docSink) {
	v := out.v
	s := &yamlSplitter{file: file, v: v, out: out, chunkLine: firstLine}
	var long []byte // a line longer than br's buffer
	for lineNo := firstLine; ; lineNo++ {
		line, err := br.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			line, err = br.ReadSlice('\n')
			line = append(long, line...)
			long = line
		}
		if len(line) > 0 {
			s.addLine(lineNo, line)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				v.errorf(Source{File: file, Line: lineNo}, "cannot read: %v", err)
			}
			break
		}
	}
	s.flush()
}

func (s *yamlSplitter) addLine(lineNo int, line []byte) {
	if marker := fastyaml.SeparatorLen(line); marker > 0 {
		s.flush()
		s.chunkLine = lineNo
		line = bytes.TrimLeft(line[marker:], " \t") // keep what follows "---", such as a comment
	}
	if s.tooLarge {
		return
	}
	if len(s.doc)+len(line) > MaxDocumentSize {
		s.v.errorf(Source{File: s.file, Line: s.chunkLine}, "document larger than %d MiB; split it", MaxDocumentSize>>20)
		s.tooLarge = true
		return
	}
	s.doc = append(s.doc, line...)
	if s.objLine == 0 && IsContentLine(line) {
		s.objLine = lineNo
	}
}

func (s *yamlSplitter) flush() {
	if s.objLine > 0 && !s.tooLarge {
		src := Source{File: s.file, Line: s.objLine}
		switch {
		case s.v.Filter != nil && !s.v.Filter(s.doc):
		case !utf8.Valid(s.doc) || bytes.IndexByte(s.doc, 0) >= 0:
			s.v.errorf(src, "not UTF-8 text")
		default:
			s.out.yamlDocument(src, s.chunkLine, s.doc)
		}
	}
	s.doc, s.objLine, s.tooLarge = s.doc[:0], 0, false
}

// isContentLine reports whether a line is neither blank, nor a comment,
// nor a directive.
func IsContentLine(line []byte) bool {
	t := bytes.TrimLeft(line, " \t")
	if len(t) == 0 {
		return false
	}
	switch t[0] {
	case '\r', '\n', '#', '%':
		return false
	}
	return true
}

// docSink takes the documents of one stream: with one worker it decodes
// each at once, else it queues it for the workers.
type docSink struct {
	file  string
	inDir bool // met in a directory walk: see decoder.skipNonObjects
	v     *Visitor
	q     *queue  // nil with one worker
	st    *stream // with workers
	fast  fastyaml.Converter
}

func (r *Reader) newDocSink(file string, inDir bool, v *Visitor) *docSink {
	out := &docSink{file: file, inDir: inDir, v: v, q: r.queue}
	if out.q != nil {
		out.st = &stream{file: file, inDir: inDir}
		out.q.st = out.st
	}
	return out
}

// end marks the end of the stream's problems.
func (out *docSink) end() {
	if out.q != nil {
		out.q.st = nil
	}
}

// yamlDocument decodes or queues a YAML document; doc may be reused after.
func (out *docSink) yamlDocument(src Source, chunkLine int, doc []byte) {
	switch {
	case out.q == nil:
		(&decoder{v: out.v, raw: doc, rawLine: chunkLine, fast: &out.fast, skipNonObjects: out.inDir}).decodeYAMLDocument(src, chunkLine, doc)
	case !out.st.failed: // its reading stopped there
		out.q.addYAML(out.st, src, chunkLine, doc)
	}
}

// jsonValue decodes or queues a JSON value, which must not be modified after.
func (out *docSink) jsonValue(src Source, raw []byte) {
	switch {
	case out.q == nil:
		(&decoder{v: out.v, raw: raw, rawLine: src.Line, skipNonObjects: out.inDir}).decodeObject(src, raw, 0)
	case !out.st.failed:
		out.q.add(item{kind: itemJSON, st: out.st, src: src, data: raw, raw: raw, rawLine: src.Line})
	}
}

// panicked reports a panic while reading the stream, after what was read
// before it.
func (out *docSink) panicked(p any) {
	if out.q == nil {
		out.v.errorf(Source{File: out.file}, "internal error while reading: %v", p)
		return
	}
	out.q.add(item{kind: itemPanic, st: out.st, panicVal: p})
}
