package app

import (
	"io"
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

func benchmarkCheck(b *testing.B, objects int) {
	const perFile = 1_000
	dir := b.TempDir()
	if _, err := corpus.WriteFiles(dir, objects, perFile); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	peak := checkSampleHeap()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		code := Run(b.Context(), []string{"check", "--fail-on", "never", "-o", "json", dir}, nil, io.Discard, io.Discard)
		if code != ExitOK {
			b.Fatalf("exit code %d", code)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(objects*b.N)/elapsed.Seconds(), "objects/s")
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
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
