package manifest

import (
	"testing"

	"github.com/setwarden/setwarden/test/benchcorpus"
)

// BenchmarkReader reads the generated corpus as `setwarden check` does: an
// indexing pass for Services and Nodes, then a pass that decodes every
// object and places one finding's field in each, and reports objects/s.
//
//	go test ./internal/manifest -run '^$' -bench Reader -cpu 1
func BenchmarkReader(b *testing.B) {
	const objects = 2_000
	dir := b.TempDir()
	if _, err := benchcorpus.WriteFiles(dir, objects, 1_000); err != nil {
		b.Fatal(err)
	}
	r := &Reader{}
	read := 0
	for b.Loop() {
		r.Walk(b.Context(), []string{dir}, &Visitor{Filter: MayHoldViewObjects, Document: func(*Document) {}})
		r.Walk(b.Context(), []string{dir}, &Visitor{
			Document: func(doc *Document) {
				read++
				NewFieldLocator(doc).Line("spec.template.spec.containers[0].securityContext")
			},
			Error: func(p Problem) { b.Fatal(p) },
		})
	}
	if read != objects*b.N {
		b.Fatalf("read %d objects, want %d", read, objects*b.N)
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "objects/s")
}
