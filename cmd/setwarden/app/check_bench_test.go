package app

import (
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/setwarden/setwarden/cmd/setwarden/internal/corpus"
)

// BenchmarkCheck100k checks a generated corpus of 100,000 objects (about 60
// lines each, in 100 files) end to end, as `setwarden check DIR -o json`
// does, and reports objects/s and the peak live heap, which stays flat as
// the corpus grows because the check streams.
//
//	go test ./cmd/setwarden/app -run '^$' -bench Check100k -benchtime 1x -cpu 1,2
func BenchmarkCheck100k(b *testing.B) { benchmarkCheck(b, 100_000) }

// BenchmarkCheck10k is BenchmarkCheck100k on a tenth of the corpus, to show
// that the peak heap does not grow with the number of objects.
func BenchmarkCheck10k(b *testing.B) { benchmarkCheck(b, 10_000) }

// BenchmarkCheckAllOutputs100k is BenchmarkCheck100k writing every format
// at once, the JSON on stdout and the others to files: YAML, SARIF and
// JUnit hold back part of their output in temporary files, not in memory.
func BenchmarkCheckAllOutputs100k(b *testing.B) { benchmarkCheck(b, 100_000, checkAllFileOutputs...) }

// BenchmarkCheckAllOutputs10k is BenchmarkCheckAllOutputs100k on a tenth of
// the corpus.
func BenchmarkCheckAllOutputs10k(b *testing.B) { benchmarkCheck(b, 10_000, checkAllFileOutputs...) }

// checkAllFileOutputs are the formats BenchmarkCheckAllOutputs writes to files.
var checkAllFileOutputs = []string{"text", "yaml", "sarif", "junit"}

func benchmarkCheck(b *testing.B, objects int, fileOutputs ...string) {
	const perFile = 1_000
	dir := b.TempDir()
	if _, err := corpus.WriteFiles(dir, objects, perFile); err != nil {
		b.Fatal(err)
	}
	args := []string{"check", "--fail-on", "never", "-o", "json", dir}
	outDir := b.TempDir()
	for _, format := range fileOutputs {
		args = append(args, "-o", format+"="+filepath.Join(outDir, "report."+format))
	}
	runtime.GC()
	peak := checkSampleHeap()
	b.ResetTimer()
	start := time.Now()
	var out checkCountingWriter
	for b.Loop() {
		out = checkCountingWriter{}
		code := Run(b.Context(), args, nil, &out, io.Discard)
		if code != ExitOK {
			b.Fatalf("exit code %d", code)
		}
	}
	elapsed := time.Since(start)
	// The report is really written, and kept nowhere: it is many times
	// the peak heap.
	if out.last != '\n' || out.n < int64(objects) {
		b.Fatalf("wrote %d bytes ending in %q: not a whole report", out.n, out.last)
	}
	b.ReportMetric(float64(objects*b.N)/elapsed.Seconds(), "objects/s")
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(out.n)/(1<<20), "output-MiB")
}

// checkCountingWriter counts what is written to it, and keeps only the
// last byte.
type checkCountingWriter struct {
	n    int64
	last byte
}

func (w *checkCountingWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.n += int64(len(p))
		w.last = p[len(p)-1]
	}
	return len(p), nil
}

// checkSampleHeap samples the live heap every few milliseconds until the
// returned func is called, which returns the highest sample.
func checkSampleHeap() func() uint64 {
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > max.Load() {
				max.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(stop)
		wg.Wait()
		return max.Load()
	}
}
