package manifest

import (
	"bytes"
	"strings"
	"testing"
)

// fuzzManifestSeeds are inputs of every shape the reader tells apart.
var fuzzManifestSeeds = []string{
	"apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  template:\n    spec:\n      tolerations:\n      - key: a\n        operator: Exists\n",
	"---\n# comment\napiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: data}\nspec: {clusterIP: None}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n}\n...\n",
	"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n- apiVersion: v1\n  kind: List\n  items: []\n",
	`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":"3"}}` + "\n" + `{"apiVersion":"v1","kind":"ConfigMap"}`,
	`[{"apiVersion":"v1"}]`,
	`{"apiVersion": "v1", kind: Pod}`,
	"apiVersion: apps/v1beta1\nkind: StatefulSet\n",
	"a: &a [*a, *a]\nb: &b [*a, *a]\nc: [*b, *b]\n",
	"\xef\xbb\xbfapiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: \"\\u00e9\"\n",
	"key: [unclosed\n",
	"apiVersion: v1\nkind: Pod\nspec:\n  containers: 3\n",
	"\x00\x01binary",
	"- just\n- a list\n",
}

// FuzzManifestReader reads arbitrary bytes as a manifest file, under a
// .yaml and a .json name. The reader recovers from panics in the decoders
// it uses and reports them as "internal error": here that is a failure,
// as is a document with a line outside the input. Every document's fields
// are also looked up by line, as `setwarden check` does for its findings.
func FuzzManifestReader(f *testing.F) {
	for _, seed := range fuzzManifestSeeds {
		f.Add([]byte(seed))
	}
	paths := []string{"spec.template.spec.tolerations[0]", "metadata.name", "spec[x.y].a[1000000]", "items[0]", "[", ""}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, name := range []string{"in.yaml", "in.json"} {
			r := &Reader{Virtual: map[string][]byte{name: data}}
			visitor := &Visitor{
				Document: func(doc *Document) {
					if doc.Line < 1 || doc.Line > lines {
						t.Fatalf("%s: %s %s at line %d of %d", name, doc.Kind, doc.Name, doc.Line, lines)
					}
					loc := NewFieldLocator(doc)
					// Without the reader's word that the fast path took it,
					// the locator checks the document itself.
					unsure := NewFieldLocator(&Document{Raw: doc.Raw, RawLine: doc.RawLine, InList: doc.InList})
					for _, p := range paths {
						l := loc.Line(p)
						if l < 0 || l > lines {
							t.Fatalf("%s: field %q of %s %s placed at line %d of %d", name, p, doc.Kind, doc.Name, l, lines)
						}
						if u := unsure.Line(p); u != l {
							t.Fatalf("%s: field %q of %s %s placed at line %d, or %d when the locator checks the text", name, p, doc.Kind, doc.Name, l, u)
						}
					}
				},
				Error: func(p Problem) {
					if strings.Contains(p.Message, "internal error") {
						t.Fatalf("%s: the reader panicked: %s", name, p.Message)
					}
					if p.Line < 0 || p.Line > lines {
						t.Fatalf("%s: problem at line %d of %d: %s", name, p.Line, lines, p.Message)
					}
				},
			}
			r.Walk(t.Context(), []string{name}, visitor)
		}
	})
}
