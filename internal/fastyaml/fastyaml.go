// Package fastyaml converts the block-style YAML that Helm and people write
// for Kubernetes to JSON, and places field paths on its lines, without
// building a generic tree. It declines whatever it is not sure about, and
// its callers fall back to sigs.k8s.io/yaml. It imports nothing from
// k8s.io, so its fuzzer runs uninstrumented by the API types.
//
// It is kept for speed against sigs.k8s.io/yaml.YAMLToJSON (BenchmarkConvert,
// built with -trimpath, 8 interleaved runs on 2 busy cores; the documents it
// declines go to sigs.k8s.io/yaml, as in the reader):
// measured: 2.7 ms vs 64 ms (23x), 0 vs 173k allocations, on 200 generated
// workloads (test/benchcorpus, 277 KB), 2026-12-07;
// measured: 17 ms vs 140 ms (7.3x), 25k vs 399k allocations, on the
// real-world corpus (318 documents, 855 KB), 2026-12-07.
package fastyaml

import (
	"bytes"
	"unicode/utf8"
)

// Converter converts the block style that tools and people write for
// Kubernetes (mappings, sequences, plain and quoted scalars on one line,
// one-line flow collections, either on the line of their key or on the next,
// as Helm's toYaml writes "resources:\n  {}", literal block scalars,
// comments, YAML 1.1 octal integers such as 0644) to JSON without the
// generic tree sigs.k8s.io/yaml builds and marshals (the package comment
// has the measured gain). Anything it is not sure about, it declines, and the caller
// falls back to sigs.k8s.io/yaml: anchors, aliases, tags, folded or
// multi-line scalars, tabs, duplicate keys, keys that are not strings,
// floats, timestamps. When it accepts, its JSON decodes to the same value as
// sigs.k8s.io/yaml's, though keys keep the document's order (the
// differential test and fuzz target check this). Scalars are typed as
// go-yaml v2 types them (YAML 1.1: yes, on and off are booleans).
//
// A Converter reuses its buffers: the JSON it returns is valid until the
// next call.
type Converter struct {
	lines []fastLine
	pos   int // next line to read
	out   []byte
	keys  [][]byte // the keys of the mappings being read, for duplicates
	// rewritten are the lines locate changed, to restore before the next
	// call.
	rewritten []rewrittenLine
	// nextLineFlow is set when a flow collection starts on the line after
	// its key or dash ("resources:\n  {}"), which locate cannot place
	// fields in.
	nextLineFlow bool
}

// fastLine is one line of the document: its indentation and its text
// without indentation and line break. Reading a compact mapping in a
// sequence ("- name: x") rewrites the line to start at the key.
type fastLine struct {
	indent  int
	text    []byte
	content bool // neither blank nor a comment
	broken  bool // ends with a line break
}

// NextLineFlow reports whether the last converted document has a flow
// collection on the line after its key or dash ("resources:\n  {}"), in
// which Locate cannot place fields.
func (f *Converter) NextLineFlow() bool { return f.nextLineFlow }

// maxFastDepth bounds nesting; deeper documents take the slow path.
const maxFastDepth = 64

// Convert returns the JSON of the YAML document data, or ok=false to
// decline.
func (f *Converter) Convert(data []byte) (json []byte, ok bool) {
	if !f.split(data) {
		return nil, false
	}
	f.pos, f.out, f.keys, f.nextLineFlow = 0, f.out[:0], f.keys[:0], false
	if !f.skipToContent() {
		return nil, false // empty: the caller handles it without converting
	}
	if !f.block(f.lines[f.pos].indent, 0) || f.skipToContent() {
		return nil, false
	}
	return f.out, true
}

// split cuts data into lines, declining characters that need the full
// parser: tabs, carriage returns, control characters and the Unicode line
// breaks of YAML 1.1.
func (f *Converter) split(data []byte) bool {
	f.lines = f.lines[:0]
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		line, broken := data, false
		if end >= 0 {
			line, data, broken = data[:end], data[end+1:], true
		} else {
			data = nil
		}
		if !plainText(line) || SeparatorLen(line) > 0 {
			return false // the reader splits documents; the fast path declines markers
		}
		indent := 0
		for indent < len(line) && line[indent] == ' ' {
			indent++
		}
		text := line[indent:]
		f.lines = append(f.lines, fastLine{indent: indent, text: text, broken: broken,
			content: len(text) > 0 && text[0] != '#'})
	}
	return true
}

// plainText reports whether line holds only characters that go-yaml reads
// as they are: printable ASCII, or UTF-8 outside the C1 controls, the
// non-characters, the byte order mark and the line separators.
func plainText(line []byte) bool {
	for i := 0; i < len(line); {
		c := line[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c < 0x80 {
			return false
		}
		r, size := utf8.DecodeRune(line[i:])
		switch {
		case r == utf8.RuneError, r < 0xa0, r == 0x2028, r == 0x2029, r == 0xfeff, r >= 0xfffe && r <= 0xffff:
			return false
		}
		i += size
	}
	return true
}

// skipToContent moves to the next content line and reports whether there
// is one.
func (f *Converter) skipToContent() bool {
	for f.pos < len(f.lines) && !f.lines[f.pos].content {
		f.pos++
	}
	return f.pos < len(f.lines)
}

// block reads the mapping or sequence whose first line is the current one,
// at the given indentation.
func (f *Converter) block(indent, depth int) bool {
	if depth > maxFastDepth {
		return false
	}
	if isDashLine(f.lines[f.pos].text) {
		return f.sequence(indent, false, depth)
	}
	return f.mapping(indent, depth)
}

func isDashLine(text []byte) bool {
	return len(text) > 0 && text[0] == '-' && (len(text) == 1 || text[1] == ' ')
}

// mapping reads a block mapping at indent.
func (f *Converter) mapping(indent, depth int) bool {
	f.out = append(f.out, '{')
	firstKey := len(f.keys)
	for first := true; f.skipToContent(); first = false {
		line := &f.lines[f.pos]
		if line.indent < indent {
			break
		}
		if line.indent > indent {
			return false
		}
		key, rest, ok := splitKey(line.text)
		if !ok || f.seen(firstKey, key) {
			return false
		}
		f.keys = append(f.keys, key)
		if !first {
			f.out = append(f.out, ',')
		}
		f.out = appendJSONString(f.out, key)
		f.out = append(f.out, ':')
		if !f.value(rest, indent, true, depth) {
			return false
		}
	}
	f.keys = f.keys[:firstKey]
	f.out = append(f.out, '}')
	return true
}

// seen reports whether the current mapping, whose keys start at
// f.keys[first], already has key. Duplicates decline: go-yaml keeps the
// last value, but encoding/json would merge the two into a struct.
func (f *Converter) seen(first int, key []byte) bool {
	for _, k := range f.keys[first:] {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}

// sequence reads a block sequence at indent. An indentless sequence (the
// value of a mapping key at the same indentation) ends at the next key.
func (f *Converter) sequence(indent int, indentless bool, depth int) bool {
	f.out = append(f.out, '[')
	for first := true; f.skipToContent(); first = false {
		line := &f.lines[f.pos]
		if line.indent < indent {
			break
		}
		if line.indent > indent {
			return false
		}
		if !isDashLine(line.text) {
			if indentless {
				break
			}
			return false
		}
		if !first {
			f.out = append(f.out, ',')
		}
		item := line.text[1:]
		spaces := 0
		for spaces < len(item) && item[spaces] == ' ' {
			spaces++
		}
		item = item[spaces:]
		if _, _, isKey := splitKey(item); isKey {
			// A compact mapping: read the rest of the line as its first key.
			line.indent, line.text = indent+1+spaces, item
			if !f.mapping(line.indent, depth+1) {
				return false
			}
			continue
		}
		if isDashLine(item) {
			return false // a compact nested sequence
		}
		if !f.value(item, indent, false, depth) {
			return false
		}
	}
	f.out = append(f.out, ']')
	return true
}

// value reads the node that follows a key (inMapping) or a dash, whose text
// on the current line is rest; parent is the indentation of the collection
// that holds it.
func (f *Converter) value(rest []byte, parent int, inMapping bool, depth int) bool {
	f.pos++
	if len(rest) == 0 || rest[0] == '#' {
		if !f.skipToContent() {
			f.out = append(f.out, "null"...)
			return true
		}
		next := &f.lines[f.pos]
		switch {
		case next.indent > parent && onItsOwnLine(next.text):
			// A flow collection or scalar on the next line, such as
			// Helm's "resources:\n  {}".
			f.nextLineFlow = f.nextLineFlow || next.text[0] == '{' || next.text[0] == '['
			return f.value(next.text, parent, inMapping, depth)
		case next.indent > parent:
			return f.block(next.indent, depth+1)
		case next.indent == parent && inMapping && isDashLine(next.text):
			return f.sequence(parent, true, depth+1)
		}
		f.out = append(f.out, "null"...)
		return true
	}
	var ok bool
	switch rest[0] {
	case '"', '\'':
		var s []byte
		var n int
		if s, n, ok = quoted(rest); ok && isBlankOrComment(rest[n:]) {
			f.out = appendJSONString(f.out, s)
		}
		ok = ok && isBlankOrComment(rest[n:])
	case '[', '{':
		var n int
		n, ok = f.flow(rest, depth+1)
		ok = ok && isBlankOrComment(rest[n:])
	case '|':
		ok = f.literal(rest, parent)
	default:
		ok = f.plainValue(rest)
	}
	// A scalar may not continue on a more indented line.
	return ok && !(f.skipToContent() && f.lines[f.pos].indent > parent)
}

// onItsOwnLine reports whether text, the first line of a block value, is a
// node that value reads on its line: a flow collection or a scalar (a block
// scalar's header aside), not a sequence or mapping.
func onItsOwnLine(text []byte) bool {
	if isDashLine(text) || text[0] == '|' || text[0] == '>' {
		return false
	}
	_, _, isKey := splitKey(text)
	return !isKey
}

// plainValue writes a plain scalar that runs to the end of its line.
func (f *Converter) plainValue(rest []byte) bool {
	if i := bytes.Index(rest, []byte(" #")); i >= 0 {
		rest = rest[:i]
	}
	rest = bytes.TrimRight(rest, " ")
	if !plainStart(rest) || bytes.Contains(rest, []byte(": ")) || rest[len(rest)-1] == ':' {
		return false
	}
	var ok bool
	f.out, ok = appendPlain(f.out, rest)
	return ok
}

// plainStart reports whether s may start a plain scalar: not an indicator,
// or a dash not followed by a space.
func plainStart(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	switch s[0] {
	case '-':
		return len(s) > 1 && s[1] != ' '
	case '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		return false
	}
	return true
}

// isBlankOrComment reports whether what follows a node on its line is
// nothing, or spaces and a comment.
func isBlankOrComment(s []byte) bool {
	if len(s) == 0 {
		return true
	}
	if s[0] != ' ' {
		return false
	}
	s = bytes.TrimLeft(s, " ")
	return len(s) == 0 || s[0] == '#'
}

// splitKey splits "key: rest" or "key:" into the key and what follows the
// colon, without leading spaces. Only string keys are accepted: go-yaml
// types a plain `yes` or `1` key, and sigs.k8s.io/yaml then renders it
// its own way.
func splitKey(text []byte) (key, rest []byte, ok bool) {
	if len(text) == 0 {
		return nil, nil, false
	}
	var end int
	if text[0] == '"' || text[0] == '\'' {
		var n int
		if key, n, ok = quoted(text); !ok {
			return nil, nil, false
		}
		end = n
		for end < len(text) && text[end] == ' ' {
			end++
		}
		// go-yaml takes a key of more than 1024 characters for no key at
		// all; long keys are left to it, as plain ones are below.
		if end == len(text) || text[end] != ':' || end > 512 {
			return nil, nil, false
		}
	} else {
		end = bytes.IndexByte(text, ':')
		for end >= 0 && end+1 < len(text) && text[end+1] != ' ' {
			next := bytes.IndexByte(text[end+1:], ':')
			if next < 0 {
				return nil, nil, false
			}
			end += 1 + next
		}
		if end < 0 {
			return nil, nil, false
		}
		key = bytes.TrimRight(text[:end], " ")
		if !plainStart(key) || bytes.Contains(key, []byte(" #")) || len(key) > 512 {
			return nil, nil, false
		}
		if resolvePlain(key) != plainString {
			return nil, nil, false
		}
	}
	if end+1 < len(text) && text[end+1] != ' ' {
		return nil, nil, false
	}
	rest = bytes.TrimLeft(text[min(end+1, len(text)):], " ")
	return key, rest, true
}

// literal reads a literal block scalar ("|", "|-") whose content lines
// follow, indented more than parent. Keep chomping, indentation
// indicators, and blank lines made of spaces (whose meaning depends on
// where they are) decline.
func (f *Converter) literal(header []byte, parent int) bool {
	strip := false
	switch {
	case len(header) > 1 && header[1] == '-':
		strip, header = true, header[2:]
	default:
		header = header[1:]
	}
	if !isBlankOrComment(header) {
		return false
	}
	first := f.pos         // value moved past the header line
	indent, last := -1, -1 // block indentation, last content line
	spaces := -1           // the first line of spaces since the last content line
	for i := first; i < len(f.lines); i++ {
		l := &f.lines[i]
		if len(l.text) == 0 {
			if l.indent > 0 && spaces < 0 {
				spaces = i
			}
			continue
		}
		if indent < 0 {
			indent = l.indent
		}
		if l.indent < indent {
			break
		}
		if spaces >= 0 && last < 0 {
			return false // leading lines of spaces may set the indentation
		}
		last, spaces = i, -1
	}
	if indent <= parent || last < 0 || spaces >= 0 {
		// Lines of spaces right after the content may belong to it.
		return false
	}
	var text []byte
	for i := first; i <= last; i++ {
		l := &f.lines[i]
		if len(l.text) > 0 || l.indent > indent {
			// Spaces beyond the indentation are content, on a line
			// of spaces too.
			text = append(text, bytes.Repeat([]byte(" "), l.indent-indent)...)
			text = append(text, l.text...)
		}
		if i < last {
			text = append(text, '\n')
		}
	}
	if !strip && f.lines[last].broken {
		text = append(text, '\n')
	}
	f.out = appendJSONString(f.out, text)
	f.pos = last + 1
	return true
}

// SeparatorLen returns the length of the YAML document start ("---") or end
// ("...") marker that begins line, or 0.
func SeparatorLen(line []byte) int {
	// Called on every line: compare bytes rather than prefixes.
	if len(line) < 3 || line[0] != '-' && line[0] != '.' || line[1] != line[0] || line[2] != line[0] {
		return 0
	}
	if len(line) == 3 {
		return 3
	}
	switch line[3] {
	case ' ', '\t', '\r', '\n':
		return 3
	}
	return 0
}
