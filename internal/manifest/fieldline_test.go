package manifest

import (
	"strings"
	"testing"

	"github.com/setwarden/setwarden/internal/fastyaml"
)

func TestFieldLocatorLine(t *testing.T) {
	// The document starts at file line 10, as after a "---" on line 10.
	raw := "apiVersion: apps/v1\n" + // 10
		"kind: DaemonSet\n" + // 11
		"spec:\n" + // 12
		"  nodeSelector:\n" + // 13
		"    beta.kubernetes.io/os: linux\n" + // 14
		"  template:\n" + // 15
		"    spec:\n" + // 16
		"      tolerations:\n" + // 17
		"        - key: a\n" + // 18
		"          operator: Equal\n" + // 19
		"        - {key: b, operator: Exists}\n" // 20
	tests := []struct {
		name string
		path string
		want int
	}{
		{name: "a field of a sequence item is on its own line", path: "spec.template.spec.tolerations[0].operator", want: 19},
		{name: "a sequence item is on the line of its dash", path: "spec.template.spec.tolerations[1]", want: 20},
		{name: "a map key with dots in brackets is found", path: "spec.nodeSelector[beta.kubernetes.io/os]", want: 14},
		{name: "a missing field is placed at its deepest existing parent", path: "spec.template.spec.affinity.nodeAffinity", want: 16},
		{name: "an index past the end is placed at the list", path: "spec.template.spec.tolerations[5]", want: 17},
	}
	// The same document read from a file, where the reader's fast path has
	// already accepted it, must place fields the same way.
	var read *FieldLocator
	file := strings.Repeat("# padding\n", 8) + "---\n" + raw
	(&Reader{Virtual: map[string][]byte{"in.yaml": []byte(file)}}).Walk(t.Context(), []string{"in.yaml"}, &Visitor{
		Document: func(doc *Document) {
			if !doc.fastYAML {
				t.Errorf("the fast path declined the document")
			}
			read = NewFieldLocator(doc)
		},
	})
	locators := map[string]*FieldLocator{
		"given": NewFieldLocator(&Document{Raw: []byte(raw), RawLine: 10}),
		"read":  read,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, l := range locators {
				if got := l.Line(tt.path); got != tt.want {
					t.Errorf("%s: Line(%q) = %d, want %d", name, tt.path, got, tt.want)
				}
			}
		})
	}
	if got := NewFieldLocator(&Document{Raw: []byte(raw), InList: true}).Line("spec"); got != 0 {
		t.Errorf("Line() in a List item = %d, want 0: items share the List's text", got)
	}
}

// TestFieldLocatorLineInAFlowCollectionOnTheNextLine places fields in a
// flow collection on the line after its key, as Helm's toYaml writes an
// empty one: the fast path converts such a document, and go-yaml v3 places
// its fields.
func TestFieldLocatorLineInAFlowCollectionOnTheNextLine(t *testing.T) {
	raw := "apiVersion: example.com/v1\n" + // 1
		"kind: Agent\n" + // 2
		"spec:\n" + // 3
		"  tolerations:\n" + // 4
		"    [{key: a, operator: Exists}]\n" + // 5
		"  resources:\n" + // 6
		"    {}\n" // 7
	var read *FieldLocator
	(&Reader{Virtual: map[string][]byte{"in.yaml": []byte(raw)}}).Walk(t.Context(), []string{"in.yaml"}, &Visitor{
		Document: func(doc *Document) {
			if doc.Kind != "Agent" {
				t.Errorf("read kind %q, want Agent", doc.Kind)
			}
			read = NewFieldLocator(doc)
		},
	})
	var fast fastyaml.Converter
	if _, ok := fast.Convert([]byte(raw)); !ok {
		t.Fatal("the fast path declined the document")
	}
	for path, want := range map[string]int{
		"spec.tolerations[0].operator": 5,
		"spec.tolerations[3]":          4,
		"spec.resources.limits":        6,
	} {
		if got := read.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
}
