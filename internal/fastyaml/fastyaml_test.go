package fastyaml

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
	yamlv3 "sigs.k8s.io/yaml/goyaml.v3"

	"github.com/setwarden/setwarden/test/benchcorpus"
)

// fastYAMLAgrees checks the fast path against sigs.k8s.io/yaml on one
// document: it must decline, or give JSON that decodes to the same value.
// It returns whether the fast path accepted.
func fastYAMLAgrees(t *testing.T, name string, doc []byte) bool {
	t.Helper()
	var f Converter
	got, ok := f.Convert(doc)
	if !ok {
		return false
	}
	want, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Errorf("%s: fast path accepted what sigs.k8s.io/yaml rejects (%v):\n%s\nfast JSON: %s", name, err, doc, got)
		return true
	}
	var gotV, wantV any
	if err := json.Unmarshal(got, &gotV); err != nil {
		t.Errorf("%s: fast path wrote invalid JSON %s: %v\n%s", name, got, err, doc)
		return true
	}
	if err := json.Unmarshal(want, &wantV); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		t.Errorf("%s: fast path differs:\n%s\nfast: %s\nwant: %s", name, doc, got, want)
	}
	return true
}

// fastYAMLDocuments splits a YAML stream on its separator lines.
func fastYAMLDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(data, []byte("\n---")) {
		if i := bytes.IndexByte(d, '\n'); bytes.HasPrefix(d, []byte("---")) && i >= 0 {
			d = d[i+1:]
		}
		docs = append(docs, d)
	}
	return docs
}

// realWorldCorpus returns the real-world corpus beside the repository. When
// it is missing the test fails in CI and is skipped elsewhere, so that a
// check over the corpus never passes without reading it.
func realWorldCorpus(t *testing.T) string {
	t.Helper()
	const dir = "../../../shared/corpus/real-world"
	if _, err := os.Stat(dir); err != nil {
		msg := fmt.Sprintf("../shared/corpus/real-world is missing: CI lays it beside the repository (%v)", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// TestFastYAMLAgreesWithSigsYAML runs the differential check over the
// generated corpus, the examples and the real-world corpus, and requires the
// fast path to accept the generated workloads. Without the real-world corpus
// it fails in CI and is skipped elsewhere, after checking the rest.
func TestFastYAMLAgreesWithSigsYAML(t *testing.T) {
	var gen bytes.Buffer
	if err := benchcorpus.Write(&gen, 20); err != nil {
		t.Fatal(err)
	}
	for i, doc := range fastYAMLDocuments(gen.Bytes()) {
		if len(bytes.TrimSpace(doc)) > 0 && !fastYAMLAgrees(t, "generated", doc) {
			t.Errorf("generated document %d declined:\n%s", i, doc)
		}
	}
	accepted, total := 0, 0
	walk := func(root string) {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				t.Fatalf("reading %s: %v", p, err)
			}
			if d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, doc := range fastYAMLDocuments(data) {
				total++
				if fastYAMLAgrees(t, p, doc) {
					accepted++
				}
			}
			return nil
		})
	}
	walk("../../examples")
	walk(realWorldCorpus(t))
	t.Logf("fast path accepted %d of %d documents from examples and the real-world corpus", accepted, total)
	// With the corpus beside the repository (as in CI), the fast path must
	// keep reading nearly all of it: 350 of 355 documents when written,
	// 278 before it read Helm's next-line collections and octals.
	if total > 300 && accepted*100 < total*97 {
		t.Errorf("fast path accepted %d of %d documents, fewer than 97%%", accepted, total)
	}
}

// TestFastYAMLAcceptsHelmOutput checks that the fast path converts, not
// only agrees on, what Helm's templates write and used to send documents
// to the slow path.
func TestFastYAMLAcceptsHelmOutput(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{name: "an empty collection on the line after its key", doc: "resources:\n  {}\nargs:\n  []\n", want: `{"resources":{},"args":[]}`},
		{name: "a scalar on the line after its key or dash", doc: "a:\n  'x'\nb:\n-\n  z\n", want: `{"a":"x","b":["z"]}`},
		{name: "a YAML 1.1 octal", doc: "defaultMode: 0400\nmode: -0644\n", want: `{"defaultMode":256,"mode":-420}`},
		{name: "a string with an underscore that cannot be a number", doc: "- --storage_path=/data\n- a_b\n", want: `["--storage_path=/data","a_b"]`},
		{name: "a line of spaces inside a literal block", doc: "s: |\n  a\n   \n  b\nt: x\n", want: `{"s":"a\n \nb\n","t":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Converter
			got, ok := f.Convert([]byte(tt.doc))
			if !ok || string(got) != tt.want {
				t.Errorf("convert(%q) = %s, %v; want %s", tt.doc, got, ok, tt.want)
			}
			fastYAMLAgrees(t, tt.name, []byte(tt.doc))
		})
	}
}

// declined marks a case the fast path must leave to sigs.k8s.io/yaml.
const declined = ""

// fastYAMLCases are small documents at the edges of the fast path. Each is
// converted to want, or declined where want is declined; all are checked
// against sigs.k8s.io/yaml, and they seed the fuzz target.
var fastYAMLCases = []struct {
	name string
	doc  string
	want string // the fast path's JSON, or declined
}{
	{name: "numbers in every YAML 1.1 form are declined", doc: "a: 1\nb: -2\nc: +3\nd: 0\ne: -0\nf: 0755\ng: 0x1F\nh: 1_000\ni: 1e3\nj: .5\nk: 1.5\nl: 123456789012345678901\n", want: declined},
	{name: "YAML 1.1 booleans, nulls, infinities, dates and quantities are declined", doc: "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: ~\ng: null\nh:\ni: true\nj: .inf\nk: .NaN\nl: 2024-01-02\nm: 1.2.3\nn: 100m\no: 25%\n", want: declined},
	{name: "quoted strings with escapes are declined", doc: "'a': 'it''s'\n\"b\": \"tab\\tnew\\nline \\u00e9 \\x41 \\/\"\nc: \"\"\nd: ''\ne: \"a # b\" # comment\n", want: declined},
	{name: "an empty sequence entry and a sequence nested on one line are declined", doc: "list:\n- a\n- b: 1\n  c: 2\n-\n- - nested\n", want: declined},
	{name: "an indented sequence of scalars, mappings and flow collections is converted", doc: "list:\n  - a\n  -   b: 1\n      c: [x, \"y\", {z: 1}]\n  - {}\n  - []\nnext: v\n", want: `{"list":["a",{"b":1,"c":["x","y",{"z":1}]},{},[]],"next":"v"}`},
	{name: "block scalars with chomping and folding are declined", doc: "script: |\n  echo hi\n    indented\n\n  done\nstrip: |-\n  a\n  b\nkeep: |+\n  a\n\nfold: >\n  a\n  b\nlast: x\n", want: declined},
	{name: "comments after values and a plain scalar with a colon are declined", doc: "a: value # comment\nb: 'v' #c\nc: x#y\nd: http://x:80/p\ne: a: b\n", want: declined},
	{name: "anchors, aliases, tags and complex keys are declined", doc: "a: &anchor 1\nb: *anchor\nc: !!str 1\n? complex\n: v\n", want: declined},
	{name: "multi-line plain and quoted scalars are declined", doc: "a: multi\n  line\nb: \"open\n  quote\"\n", want: declined},
	{name: "a duplicate key is declined", doc: "a: 1\na: 2\n", want: declined},
	{name: "keys that are not strings are declined", doc: "1: one\ntrue: t\n~: n\n", want: declined},
	{name: "a tab in the indentation is declined", doc: "a:\n\tb: tab\n", want: declined},
	{name: "a dedent to an indentation no parent has is declined", doc: "top:\n    deep: 1\n    deeper:\n        - x\n  bad: 2\n", want: declined},
	{name: "a flow mapping at the top is declined", doc: "{a: 1}\n", want: declined},
	{name: "a sequence at the top is converted", doc: "- a\n- b\n", want: `["a","b"]`},
	{name: "flow collections with a trailing comma, a pair or a key without value are declined", doc: "a: [1, 2,]\nb: [a: 1]\nc: {a}\nd: [a:b]\n", want: declined},
	{name: "a dash where a value belongs is declined", doc: "a: -\nb: - x\nc: |2\n   x\n", want: declined},
	{name: "a comment after the last sequence entry is converted", doc: "env:\n- name: X\n  value: \"2\"\n# trailing comment\n", want: `{"env":[{"name":"X","value":"2"}]}`},
	{name: "an empty sequence entry and a key without value at the end are converted", doc: "A:\n- \nB:", want: `{"A":[null],"B":null}`},
	{name: "a sequence of mappings with a nested sequence is converted", doc: "- a: 1\n  b:\n  - x\n- c: 2\n", want: `[{"a":1,"b":["x"]},{"c":2}]`},
	// Helm's toYaml puts an empty collection on the line after its key.
	{name: "Helm's empty collections on the line after their key are converted", doc: "resources:\n  {}\nsecurityContext:\n  runAsUser: 1\nargs:\n  []\nflow:\n    [a, {b: c}]  # c\n", want: `{"resources":{},"securityContext":{"runAsUser":1},"args":[],"flow":["a",{"b":"c"}]}`},
	{name: "scalars on the line after their key or dash are converted", doc: "name:\n  'quoted'\nplain:\n  value\nlist:\n- \"x\"\n-\n  y\n-\n  - z\n", want: `{"name":"quoted","plain":"value","list":["x",true,["z"]]}`},
	{name: "a multi-line plain scalar on the line after its key is declined", doc: "multi:\n  a\n  b\nx: 1\n", want: declined},
	{name: "collections and strings on the line after a dash are converted", doc: "list:\n-\n  {}\n-\n  \"s\"\n- x\n", want: `{"list":[{},"s","x"]}`},
	{name: "a mapping after an empty flow mapping on the line after its key is declined", doc: "a:\n  {}\n  b: 1\n", want: declined},
	{name: "a literal block on the line after its key is declined", doc: "a:\n  |\n    x\nb: 1\n", want: declined},
	{name: "YAML 1.1 octals among numbers that are not octals are declined", doc: "a: 0400\nb: -0644\nc: +017\nd: 08\ne: 00\nf: 0777777777777777777777\ng: -00\nh: 0_7\n", want: declined},
	{name: "underscores in numbers are declined", doc: "a: --x_y=/p\nb: 1_000\nc: 0x_1F\nd: a_b\ne: -1_0\nf: 1_0.5\ng: 2024_01\nh: _1\n", want: declined},
	{name: "lines of spaces inside a literal block are converted", doc: "s: |\n  a\n   \n  b\n \n  c\nt: x\n", want: `{"s":"a\n \nb\n\nc\n","t":"x"}`},
	{name: "a literal block that starts with a line of spaces is declined", doc: "s: |\n    \n  a\nt: x\n", want: declined},
	{name: "a stripped literal block ending in a line of spaces is declined", doc: "s: |-\n  a\n   \nt: x\n", want: declined},
	{name: "a literal block with more-indented lines is converted", doc: "s: |\n  a\n     b\n    \n  c\n", want: `{"s":"a\n   b\n  \nc\n"}`},
}

func TestFastYAMLEdgeCases(t *testing.T) {
	for _, tc := range fastYAMLCases {
		t.Run(tc.name, func(t *testing.T) {
			var f Converter
			got, ok := f.Convert([]byte(tc.doc))
			switch {
			case tc.want == declined && ok:
				t.Errorf("convert(%q) = %s; want it declined", tc.doc, got)
			case tc.want != declined && !ok:
				t.Errorf("convert(%q) declined; want %s", tc.doc, tc.want)
			case string(got) != tc.want:
				t.Errorf("convert(%q) = %s; want %s", tc.doc, got, tc.want)
			}
			fastYAMLAgrees(t, tc.name, []byte(tc.doc))
		})
	}
}

// fastYAMLLocateAgrees checks Converter.locate against the go-yaml v3 node
// walk of FieldLocator for every path of the document, and some missing
// ones.
func fastYAMLLocateAgrees(t *testing.T, name string, doc []byte) {
	t.Helper()
	var f Converter
	if !f.Accepts(doc) {
		return
	}
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(doc, &root); err != nil || len(root.Content) != 1 {
		return
	}
	j, _ := yaml.YAMLToJSON(doc)
	var v any
	json.Unmarshal(j, &v)
	var paths [][]string
	var walk func(prefix []string, v any)
	walk = func(prefix []string, v any) {
		paths = append(paths, append(slices.Clone(prefix), "missing"), append(slices.Clone(prefix), "7"))
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				p := append(slices.Clone(prefix), k)
				paths = append(paths, p)
				walk(p, c)
			}
		case []any:
			for i, c := range v {
				p := append(slices.Clone(prefix), strconv.Itoa(i))
				paths = append(paths, p)
				walk(p, c)
			}
		}
	}
	walk(nil, v)
	for _, p := range paths {
		want := TreeLine(root.Content[0], p)
		if got := f.Locate(p); got != want {
			t.Errorf("%s: locate(%q) = %d, go-yaml v3 says %d:\n%s", name, p, got, want, doc)
		}
	}
}

func TestFastYAMLLocateAgreesWithYAMLv3(t *testing.T) {
	var gen bytes.Buffer
	if err := benchcorpus.Write(&gen, 10); err != nil {
		t.Fatal(err)
	}
	docs := fastYAMLDocuments(gen.Bytes())
	for _, tc := range fastYAMLCases {
		docs = append(docs, []byte(tc.doc))
	}
	for _, doc := range docs {
		fastYAMLLocateAgrees(t, "doc", doc)
	}
}
