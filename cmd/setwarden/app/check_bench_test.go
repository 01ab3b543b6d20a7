package app

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/setwarden/setwarden/internal/check"
	"github.com/setwarden/setwarden/internal/manifest"
	"github.com/setwarden/setwarden/test/benchcorpus"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
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
	if _, err := benchcorpus.WriteFiles(dir, objects, perFile); err != nil {
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

// TestCheckOutputIsTheSameOnEveryCore checks a mixed input, good files and
// broken ones, generated and bundled, with one core and with several: the
// reader decodes on every core, and the reports must not show it.
func TestCheckOutputIsTheSameOnEveryCore(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "corpus"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := benchcorpus.WriteFiles(filepath.Join(dir, "corpus"), 600, 150); err != nil {
		t.Fatal(err)
	}
	broken := map[string]string{
		"a-broken.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   labels: {}\n---\napiVersion: apps/v1\nkind: Deployment\n" +
			"metadata: {name: web}\nspec: {replicas: \"3\"}\n---\napiVersion: apps/v1beta1\nkind: StatefulSet\nmetadata: {name: zk}\n",
		"b-binary.yaml": "\x89PNG\r\n\x1a\n\x00\x00",
		"c-stream.json": `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"}}]}` + "\n{\"kind\":",
	}
	for name, content := range broken {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	examples := filepath.Join("..", "..", "..", "examples")
	stdin := "apiVersion: v1\nkind: Service\nmetadata: {name: piped}\n---\nkey: [unclosed\n"
	check := func(procs int) (stdout, text string) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		textFile := filepath.Join(t.TempDir(), "report.txt")
		var out, errOut bytes.Buffer
		args := []string{"check", "--fail-on", "never", "-o", "json", "-o", "text=" + textFile, dir, examples, "-", "missing.yaml"}
		// Input errors exit with 2, after checking everything else.
		if code := Run(t.Context(), args, strings.NewReader(stdin), &out, &errOut); code != ExitUsage {
			t.Fatalf("with %d cores: exit code %d, want %d for the broken files; stderr:\n%s", procs, code, ExitUsage, errOut.String())
		}
		report, err := os.ReadFile(textFile)
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), strings.ReplaceAll(string(report), textFile, "REPORT")
	}
	wantJSON, wantText := check(1)
	for _, want := range []string{"a-broken.yaml", "c-stream.json", "not UTF-8 text", "<stdin>", "missing.yaml"} {
		if !strings.Contains(wantJSON, want) {
			t.Fatalf("the JSON report with one core lacks %s: the input is not as mixed as intended", want)
		}
	}
	for _, procs := range []int{2, 4} {
		gotJSON, gotText := check(procs)
		if gotJSON != wantJSON {
			t.Errorf("the JSON report with %d cores differs from the one with one core", procs)
		}
		if gotText != wantText {
			t.Errorf("the text report with %d cores differs from the one with one core", procs)
		}
	}
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

// BenchmarkCheckYardsticks measures, on the corpus of BenchmarkCheck100k,
// what a check costs before any policy runs, to read its figure against:
//
//   - read: finding and splitting the documents, nothing decoded;
//
//   - decode: one pass that converts every document to JSON and decodes it
//     into its typed object, as check's evaluating pass does (check also
//     makes an indexing pass, runs the engine and writes the report);
//
//   - client-go: decoding the same documents as kubectl does, with
//     client-go's universal deserializer (sigs.k8s.io/yaml, then
//     encoding/json into the typed object).
//
// Each runs with check's GOGC (check.GCPercent).
//
//	go test ./cmd/setwarden/app -run '^$' -bench CheckYardsticks -benchtime 1x -cpu 1
func BenchmarkCheckYardsticks(b *testing.B) {
	const objects = 20_000
	defer debug.SetGCPercent(debug.SetGCPercent(check.GCPercent))
	dir := b.TempDir()
	if _, err := benchcorpus.WriteFiles(dir, objects, 1_000); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, walk func() int) {
		read := 0
		for b.Loop() {
			read = walk()
		}
		if read != objects {
			b.Fatalf("read %d objects, want %d", read, objects)
		}
		b.ReportMetric(float64(objects*b.N)/b.Elapsed().Seconds(), "objects/s")
	}
	b.Run("read", func(b *testing.B) {
		run(b, func() int {
			read := 0
			(&manifest.Reader{}).Walk(b.Context(), []string{dir}, &manifest.Visitor{
				Filter: func([]byte) bool { read++; return false },
			})
			return read
		})
	})
	b.Run("decode", func(b *testing.B) {
		run(b, func() int {
			read := 0
			(&manifest.Reader{}).Walk(b.Context(), []string{dir}, &manifest.Visitor{
				Document: func(doc *manifest.Document) {
					if doc.Object != nil {
						read++
					}
				},
				Error: func(p manifest.Problem) { b.Fatal(p) },
			})
			return read
		})
	})
	b.Run("client-go", func(b *testing.B) {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			b.Fatal(err)
		}
		deserializer := scheme.Codecs.UniversalDeserializer()
		run(b, func() int {
			read := 0
			for _, file := range files {
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				docs := utilyaml.NewYAMLReader(bufio.NewReader(f))
				for {
					doc, err := docs.Read()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if len(bytes.TrimSpace(doc)) == 0 {
						continue
					}
					if _, _, err := deserializer.Decode(doc, nil, nil); err != nil {
						b.Fatal(err)
					}
					read++
				}
				f.Close()
			}
			return read
		})
	})
}
