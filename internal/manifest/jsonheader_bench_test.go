package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/internal/fastyaml"
	"github.com/setwarden/setwarden/internal/kjson"
	"github.com/setwarden/setwarden/test/benchcorpus"
)

// headerBenchJSON returns the JSON the reader sniffs: the fast path's (or
// sigs.k8s.io/yaml's) conversion of the generated or real-world corpus.
func headerBenchJSON(b *testing.B, corpus string) [][]byte {
	b.Helper()
	var data [][]byte
	switch corpus {
	case "generated":
		var gen bytes.Buffer
		if err := benchcorpus.Write(&gen, 200); err != nil {
			b.Fatal(err)
		}
		data = append(data, gen.Bytes())
	case "real-world":
		paths, _ := filepath.Glob("../../../shared/corpus/real-world/*.yaml")
		for _, p := range paths {
			d, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			data = append(data, d)
		}
	}
	var docs [][]byte
	var fast fastyaml.Converter
	for _, d := range data {
		for _, doc := range bytes.Split(d, []byte("\n---")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			j, ok := fast.Convert(doc)
			if ok {
				j = bytes.Clone(j)
			} else if j, _ = yaml.YAMLToJSON(doc); len(j) < 2 || j[0] != '{' {
				continue
			}
			docs = append(docs, j)
		}
	}
	if len(docs) == 0 {
		b.Skipf("no %s documents", corpus)
	}
	return docs
}

// BenchmarkSniffHeader measures sniffHeader against decoding the header
// with kjson, which it spares most documents. The hand-written scanner it
// was measured against (see sniffHeader) is in the history of
// jsonheader.go.
//
//	go test ./internal/manifest -run '^$' -bench SniffHeader
func BenchmarkSniffHeader(b *testing.B) {
	for _, corpus := range []string{"generated", "real-world"} {
		docs := headerBenchJSON(b, corpus)
		var size int64
		for _, d := range docs {
			size += int64(len(d))
			got, ok := sniffHeader(d)
			var want header
			if err := kjson.Unmarshal(d, &want); ok && (err != nil || got.APIVersion != want.APIVersion ||
				got.Kind != want.Kind || got.Metadata != want.Metadata) {
				b.Fatalf("sniffHeader = %+v, decoding gives %+v (%v)\n%s", got, want, err, d)
			}
		}
		b.Run(corpus+"/sniffHeader", func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range docs {
					sniffHeader(d)
				}
			}
		})
		b.Run(corpus+"/kjson", func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range docs {
					var h header
					kjson.Unmarshal(d, &h)
				}
			}
		})
	}
}
