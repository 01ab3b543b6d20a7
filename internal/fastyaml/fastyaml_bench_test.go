package fastyaml

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/test/benchcorpus"
)

// benchDocuments returns the non-empty documents of the generated corpus
// or of the real-world corpus beside the repository, and their size.
func benchDocuments(b *testing.B, corpus string) ([][]byte, int64) {
	b.Helper()
	var docs [][]byte
	add := func(data []byte) {
		for _, d := range fastYAMLDocuments(data) {
			if len(bytes.TrimSpace(d)) > 0 {
				docs = append(docs, d)
			}
		}
	}
	switch corpus {
	case "generated":
		var gen bytes.Buffer
		if err := benchcorpus.Write(&gen, 200); err != nil {
			b.Fatal(err)
		}
		add(gen.Bytes())
	case "real-world":
		paths, _ := filepath.Glob("../../../shared/corpus/real-world/*.yaml")
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			add(data)
		}
	}
	if len(docs) == 0 {
		b.Skipf("no %s documents", corpus)
	}
	var n int64
	for _, d := range docs {
		n += int64(len(d))
	}
	return docs, n
}

// BenchmarkConvert compares the fast path, falling back to sigs.k8s.io/yaml
// where it declines as the decoder does, with sigs.k8s.io/yaml alone.
func BenchmarkConvert(b *testing.B) {
	for _, corpus := range []string{"generated", "real-world"} {
		docs, size := benchDocuments(b, corpus)
		b.Run(corpus+"/fastyaml", func(b *testing.B) {
			var f Converter
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range docs {
					if _, ok := f.Convert(d); !ok {
						f = Converter{}
						if _, err := yaml.YAMLToJSON(d); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
		b.Run(corpus+"/sigsyaml", func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range docs {
					if _, err := yaml.YAMLToJSON(d); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
