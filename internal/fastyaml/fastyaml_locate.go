package fastyaml

import (
	"bytes"
	"strconv"
)

// Accepts reports whether the fast path converts data and can place its
// fields, and if so prepares locate for it.
func (f *Converter) Accepts(data []byte) bool {
	if _, ok := f.Convert(data); !ok || f.nextLineFlow {
		return false
	}
	f.Index(data)
	return true
}

// Index prepares locate for data, a document the fast path accepts.
func (f *Converter) Index(data []byte) {
	if n := bytes.Count(data, []byte("\n")) + 1; cap(f.lines) < n {
		f.lines = make([]fastLine, 0, n)
	}
	f.split(data)
	f.rewritten = f.rewritten[:0]
}

// rewrittenLine is a line as split, before locate read it as the first
// key of a compact mapping.
type rewrittenLine struct {
	index int
	line  fastLine
}

// Locate returns the 1-based document line of the node at the field path
// toks, or of the deepest node of it that exists, as FieldLocator.Line does
// with a go-yaml v3 node tree: the line of a key in a mapping, of an item
// in a sequence. f must have accepted the document, whose
// flow collections and scalars fit on one line, the line of their key or
// dash.
func (f *Converter) Locate(toks []string) int {
	for i := len(f.rewritten) - 1; i >= 0; i-- {
		f.lines[f.rewritten[i].index] = f.rewritten[i].line
	}
	f.rewritten = f.rewritten[:0]
	f.pos = 0
	if !f.skipToContent() {
		return 0
	}
	node, line := f.pos, f.pos
	for _, tok := range toks {
		var next int
		if isDashLine(f.lines[node].text) {
			line, next = f.locateItem(node, tok, line)
		} else {
			line, next = f.locateKey(node, tok, line)
		}
		if next < 0 {
			break
		}
		node = next
	}
	return line + 1
}

// locateKey finds tok in the block mapping that starts at line node. It
// returns the key's line and the line where its block value starts, or -1
// when the key is missing (with line unchanged) or its value has no
// children on other lines.
func (f *Converter) locateKey(node int, tok string, line int) (int, int) {
	indent := f.lines[node].indent
	for i := node; i < len(f.lines); i++ {
		l := &f.lines[i]
		if !l.content || l.indent > indent {
			continue
		}
		if l.indent < indent {
			break
		}
		if isDashLine(l.text) {
			continue // an indentless sequence, value of a previous key
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			break
		}
		if string(key) == tok {
			return i, f.blockValue(i, rest, indent, true)
		}
	}
	return line, -1
}

// locateItem finds item tok of the block sequence that starts at line node.
func (f *Converter) locateItem(node int, tok string, line int) (int, int) {
	k, err := strconv.Atoi(tok)
	indent := f.lines[node].indent
	for i, n := node, 0; err == nil && i < len(f.lines); i++ {
		l := &f.lines[i]
		if !l.content || l.indent > indent {
			continue
		}
		if l.indent < indent || !isDashLine(l.text) {
			break
		}
		if n++; n <= k {
			continue
		}
		item := l.text[1:]
		spaces := skipSpaces(item, 0)
		item = item[spaces:]
		if _, _, isKey := splitKey(item); isKey {
			f.rewritten = append(f.rewritten, rewrittenLine{i, *l})
			l.indent, l.text = indent+1+spaces, item
			return i, i
		}
		if len(item) > 0 && item[0] != '#' {
			return i, -1
		}
		if next := f.blockValue(i, item, indent, false); next >= 0 {
			return next, next
		}
		return i, -1
	}
	return line, -1
}

// blockValue returns the line where the block value of the key or dash on
// line i starts, or -1 when the value is on line i or empty.
func (f *Converter) blockValue(i int, rest []byte, indent int, inMapping bool) int {
	if len(rest) > 0 && rest[0] != '#' {
		return -1
	}
	f.pos = i + 1
	if !f.skipToContent() {
		return -1
	}
	next := &f.lines[f.pos]
	if next.indent > indent || (next.indent == indent && inMapping && isDashLine(next.text)) {
		return f.pos
	}
	return -1
}
