package manifest

import (
	"bytes"
	"reflect"
	"strings"

	"github.com/setwarden/setwarden/internal/kjson"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
	yamlv3 "sigs.k8s.io/yaml/goyaml.v3"
)

// strictState carries what the strict decoding of one document needs from
// its conversion to JSON.
type strictState struct {
	// fromYAML is set for documents converted from YAML: the conversion
	// keeps one of each duplicate key, so the JSON has none to look for.
	fromYAML bool
	// dupYAML is the YAML text of a document with duplicate keys, and
	// chunkLine the file line of its first line.
	dupYAML   []byte
	chunkLine int
}

// yamlToJSON converts a YAML document the fast path declined, as
// sigs.k8s.io/yaml's lenient YAMLToJSON does (the last of duplicate keys
// wins), and remembers whether it has duplicate keys. The strict
// conversion costs the same as the lenient one, which runs only after it
// found duplicates.
func (b *decoder) yamlToJSON(data []byte, chunkLine int) ([]byte, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err == nil || !strings.Contains(err.Error(), "already set in map") {
		return j, err
	}
	if j, err = yaml.YAMLToJSON(data); err == nil {
		b.strict.dupYAML, b.strict.chunkLine = data, chunkLine
	}
	return j, err
}

// unmarshalTyped decodes an object of a kind setwarden decodes and records
// its unknown and duplicate fields on doc (see kjson.UnmarshalStrict).
// Duplicate YAML keys are known only for a whole document, not for the
// items of a List.
func (b *decoder) unmarshalTyped(data []byte, obj runtime.Object, doc *Document, depth int) error {
	var lineOf func(int64) int
	if !b.strict.fromYAML && depth == 0 && len(data) == len(b.raw) {
		raw, first := b.raw, b.rawLine
		lineOf = func(off int64) int { return first + bytes.Count(raw[:min(int(off), len(raw))], []byte("\n")) }
	}
	errs, err := kjson.UnmarshalStrict(data, obj, !b.strict.fromYAML, lineOf)
	if err != nil {
		return err
	}
	if b.strict.dupYAML != nil && depth == 0 {
		errs = append(yamlDuplicates(b.strict.dupYAML, b.strict.chunkLine, reflect.TypeOf(obj)), errs...)
	}
	doc.FieldErrors = errs
	return nil
}

// yamlDuplicates returns a field error for each key that occurs more than
// once in a mapping of the YAML document data, decoded as Go type t, with
// the file lines of its occurrences.
func yamlDuplicates(data []byte, chunkLine int, t reflect.Type) field.ErrorList {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(data, &doc); err != nil || doc.Kind != yamlv3.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	d := &yamlDupFinder{data: data, chunkLine: chunkLine, seen: map[string]bool{}}
	d.node(doc.Content[0], t, nil)
	return d.errs
}

type yamlDupFinder struct {
	data      []byte
	chunkLine int
	errs      field.ErrorList
	seen      map[string]bool
}

func (d *yamlDupFinder) node(n *yamlv3.Node, t reflect.Type, path *field.Path) {
	switch n.Kind {
	case yamlv3.SequenceNode:
		for i, item := range n.Content {
			d.node(item, kjson.Element(t), path.Index(i))
		}
	case yamlv3.MappingNode:
		d.mapping(n, t, path)
	}
}

func (d *yamlDupFinder) mapping(n *yamlv3.Node, t reflect.Type, path *field.Path) {
	lines := map[string][]int{}
	var order []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		if key == "<<" {
			continue // a merge key, which may repeat
		}
		if _, ok := lines[key]; !ok {
			order = append(order, key)
		}
		lines[key] = append(lines[key], d.chunkLine+newlinesBeforeYAMLLine(d.data, n.Content[i].Line))
		member, mapEntry, _ := kjson.Member(t, key)
		d.node(n.Content[i+1], member, d.child(path, key, mapEntry))
	}
	for _, key := range order {
		if l := lines[key]; len(l) > 1 {
			_, mapEntry, _ := kjson.Member(t, key)
			p := d.child(path, key, mapEntry)
			if s := p.String(); !d.seen[s] { // once, when several occurrences repeat it
				d.seen[s] = true
				d.errs = append(d.errs, field.Forbidden(p, kjson.DuplicateFieldMessage(l)))
			}
		}
	}
}

func (d *yamlDupFinder) child(path *field.Path, key string, mapEntry bool) *field.Path {
	if mapEntry {
		return path.Key(key)
	}
	return path.Child(key)
}
