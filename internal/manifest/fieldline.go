package manifest

import (
	"strings"

	"github.com/setwarden/setwarden/internal/fastyaml"
	yamlv3 "sigs.k8s.io/yaml/goyaml.v3"
)

// FieldLocator maps the field paths of one document's findings to lines. It
// parses the document into a node tree once, and only when asked, since
// most documents have no finding.
type FieldLocator struct {
	raw     []byte
	rawLine int
	root    *yamlv3.Node
	parsed  bool
	// fastYAML is set when the reader's fast path converted raw.
	fastYAML bool
	// fast, when the document is in the fast YAML subset, places fields
	// by walking its lines instead of building a node tree.
	fast *fastyaml.Converter
}

// NewFieldLocator returns a locator for the document doc, or nil when its
// fields cannot be placed (the items of a List share the List's text). It
// copies doc.Raw, which the reader reuses.
func NewFieldLocator(doc *Document) *FieldLocator {
	if doc.InList || len(doc.Raw) == 0 {
		return nil
	}
	return &FieldLocator{raw: append([]byte(nil), doc.Raw...), rawLine: doc.RawLine, fastYAML: doc.fastYAML}
}

// Line returns the file line of the node at path, a field path as
// field.Path renders it ("spec.template.spec.tolerations[0]",
// "spec.nodeSelector[kubernetes.io/os]"): the line of its key in a mapping,
// of the item in a sequence. When the path leaves the document (a missing
// field the finding asks to add), it returns the line of the deepest node
// that exists; 0 when nothing can be placed.
func (l *FieldLocator) Line(path string) int {
	if l == nil {
		return 0
	}
	if !l.parsed {
		l.parse()
	}
	if l.fast != nil {
		return l.rawLine + l.fast.Locate(splitFieldPath(path)) - 1
	}
	if l.root == nil {
		return 0
	}
	line := fastyaml.TreeLine(l.root, splitFieldPath(path))
	// go-yaml counts a lone "\r" as a line break too; the file's lines
	// do not.
	return l.rawLine + newlinesBeforeYAMLLine(l.raw, line)
}

// parse prepares the document for placing fields: the fast path's lines
// when it accepts the document (the reader says so, or a trial conversion),
// else a go-yaml v3 node tree.
func (l *FieldLocator) parse() {
	l.parsed = true
	f := &fastyaml.Converter{}
	switch {
	case l.fastYAML:
		f.Index(l.raw)
		l.fast = f
		return
	case f.Accepts(l.raw):
		l.fast = f
		return
	}
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(l.raw, &doc); err == nil && doc.Kind == yamlv3.DocumentNode && len(doc.Content) == 1 {
		l.root = doc.Content[0]
	}
}

// splitFieldPath splits "a.b[0].c[key.with.dots]" into a, b, 0, c,
// key.with.dots.
func splitFieldPath(path string) []string {
	var toks []string
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			i++
		case '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return append(toks, path[i+1:])
			}
			toks = append(toks, path[i+1:i+end])
			i += end + 1
		default:
			end := strings.IndexAny(path[i:], ".[")
			if end < 0 {
				return append(toks, path[i:])
			}
			toks = append(toks, path[i:i+end])
			i += end
		}
	}
	return toks
}
