package manifest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mixedInput returns files of every shape the reader tells apart, good
// documents among broken ones, with enough documents to fill many batches
// and Lists longer than one batch.
func mixedInput() map[string]string {
	files := map[string]string{
		"dir/z/chart.yaml": "\x89PNG\r\n\x1a\n\x00\x00",
		"dir/z/old.yaml":   "apiVersion: apps/v1beta1\nkind: StatefulSet\nmetadata: {name: zk}\n",
		"dir/z/list.yaml":  yamlList(40, 5),
		"dir/z/nul.yaml":   svcYAML + "---\nkind: \x00\n---\n" + stsYAML,
		"dir/z/deep.json":  strings.Repeat(`{"apiVersion":"v1","kind":"List","items":[`, 10) + strings.Repeat("]}", 10),
	}
	for f := range 12 {
		var b strings.Builder
		for d := range 25 {
			switch (f + d) % 7 {
			case 0:
				fmt.Fprintf(&b, "---\n# comment %d\n%s", d, deploymentYAML(fmt.Sprintf("web-%d-%d", f, d)))
			case 1:
				fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d-%d}\n", f, d)
			case 2:
				b.WriteString("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   labels: {}\n")
			case 3:
				b.WriteString("---\napiVersion: v1\nkind: Pod\nspec:\n  containers: 3\n")
			case 4:
				b.WriteString("--- # empty\n")
			case 5:
				b.WriteString("---\n" + svcYAML)
			case 6:
				b.WriteString("---\n" + yamlList(3, d))
			}
		}
		files[fmt.Sprintf("dir/f%02d.yaml", f)] = b.String()
	}
	var j strings.Builder
	for i := range 30 {
		fmt.Fprintf(&j, "{\"apiVersion\": \"v1\", \"kind\": \"Node\", \"metadata\": {\"name\": \"n%d\"}}\n", i)
	}
	files["dir/nodes.json"] = j.String() + "{\"apiVersion\": \"v1\", \"kind\": \n"
	return files
}

func deploymentYAML(name string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  template:\n    spec:\n" +
		"      containers:\n      - name: app\n        image: nginx\n        securityContext:\n          privileged: true\n"
}

// yamlList returns a List of n objects, one of them a nested List.
func yamlList(n, seed int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range n {
		if i == n/2 {
			fmt.Fprintf(&b, "- {apiVersion: v1, kind: List, items: [{apiVersion: v1, kind: Service, metadata: {name: inner-%d}}]}\n", seed)
			continue
		}
		fmt.Fprintf(&b, "- {apiVersion: apps/v1, kind: DaemonSet, metadata: {name: ds-%d-%d}, spec: {minReadySeconds: %d}}\n", seed, i, i)
	}
	return b.String()
}

// recordWalk walks paths and returns every Visitor call, documents with
// their text and the line of one field. A document named panicOn makes the
// Document callback panic.
func recordWalk(t *testing.T, r *Reader, paths []string, filter func([]byte) bool, panicOn string) []string {
	t.Helper()
	var calls []string
	r.Walk(t.Context(), paths, &Visitor{
		Filter: filter,
		Document: func(d *Document) {
			if d.Name == panicOn {
				panic("boom")
			}
			calls = append(calls, fmt.Sprintf("document %s %s %s/%s %T raw %d:%q in list %v, containers at line %d", d.Source, d.Kind,
				d.Namespace, d.Name, d.Object, d.RawLine, d.Raw, d.InList, NewFieldLocator(d).Line("spec.template.spec.containers[0]")))
		},
		Error:  func(p Problem) { calls = append(calls, "error "+p.Source.String()+": "+p.Message) },
		Notice: func(p Problem) { calls = append(calls, "notice "+p.Source.String()+": "+p.Message) },
	})
	return calls
}

func TestReaderWorkersKeepInputOrder(t *testing.T) {
	tests := []struct {
		name    string
		filter  func([]byte) bool
		panicOn string
		panics  bool
	}{
		{name: "every document, error and notice comes in input order"},
		{name: "a filter skips the same documents", filter: MayHoldViewObjects},
		{name: "a panic in a callback ends the same file at the same place", panicOn: "web-3-4", panics: true},
		{name: "a panic in a callback inside a List ends the same file at the same place", panicOn: "ds-5-30", panics: true},
		{name: "a panic while reading ends the same file at the same place", filter: func(raw []byte) bool {
			if bytes.Contains(raw, []byte("name: cm-5-3}")) {
				panic("boom while reading")
			}
			return true
		}, panics: true},
	}
	paths := []string{"dir", "missing.yaml", "-", "dir/f03.yaml", "dir/z/list.yaml"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			manifestWriteFiles(t, mixedInput())
			stdin := "# piped\n" + stsYAML + "---\n" + yamlList(20, 9)
			want := recordWalk(t, &Reader{Workers: 1, Stdin: strings.NewReader(stdin)}, paths, tt.filter, tt.panicOn)
			if len(want) < 200 {
				t.Fatalf("one worker made %d calls, want enough to fill many batches", len(want))
			}
			reported := slices.ContainsFunc(want, func(c string) bool { return strings.Contains(c, "internal error while reading") })
			if reported != tt.panics {
				t.Fatalf("one worker reported a panic: %v, want %v", reported, tt.panics)
			}
			for _, workers := range []int{2, 3, 8} {
				got := recordWalk(t, &Reader{Workers: workers, Stdin: strings.NewReader(stdin)}, paths, tt.filter, tt.panicOn)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Walk with %d workers differs from one worker (-want +got):\n%s", workers, diff)
				}
			}
		})
	}
}

func TestReaderWorkersReportPanicsOnce(t *testing.T) {
	t.Chdir(t.TempDir())
	manifestWriteFiles(t, mixedInput())
	got := recordWalk(t, &Reader{Workers: 4}, []string{"dir/f03.yaml", "dir/f04.yaml"}, nil, "web-3-4")
	var internal []string
	for _, c := range got {
		if strings.Contains(c, "internal error") || strings.Contains(c, "web-3-") {
			internal = append(internal, c)
		}
	}
	want := []string{"error dir/f03.yaml: internal error while reading: boom"}
	if diff := cmp.Diff(want, internal); diff != "" {
		t.Errorf("calls about the panic (-want +got):\n%s", diff)
	}
	if last := got[len(got)-1]; !strings.Contains(last, "dir/f04.yaml") {
		t.Errorf("last call = %q, want the next file still read", last)
	}
}

// TestReaderWorkersPrepareEveryDocument checks Visitor.Prepare: with four
// workers, every document reaches Document prepared (Lists included), once,
// with what Prepare made of that very document, in input order.
func TestReaderWorkersPrepareEveryDocument(t *testing.T) {
	t.Chdir(t.TempDir())
	manifestWriteFiles(t, mixedInput())
	paths := []string{"dir", "dir/z/list.yaml"}
	var want []string
	(&Reader{Workers: 1}).Walk(t.Context(), paths, &Visitor{Document: func(d *Document) {
		want = append(want, d.Source.String()+" "+d.Name)
	}})
	var prepared atomic.Int64
	var got []string
	(&Reader{Workers: 4}).Walk(t.Context(), paths, &Visitor{
		Prepare: func(d *Document) any {
			prepared.Add(1)
			return d.Source.String() + " " + d.Name
		},
		Document: func(d *Document) {
			p, ok := d.Prepared.(string)
			if !ok {
				p = "unprepared " + d.Source.String() + " " + d.Name
			}
			got = append(got, p)
		},
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("documents (-one worker, unprepared +four workers, prepared):\n%s", diff)
	}
	if int(prepared.Load()) != len(want) {
		t.Errorf("Prepare ran %d times for %d documents", prepared.Load(), len(want))
	}
}

// TestReaderWorkersBoundTheBytesInFlight reads large documents with many
// workers: the documents decoded but not yet handed over must stay within
// windowBytes (and one more batch), not a window of batches each as large
// as a document.
func TestReaderWorkersBoundTheBytesInFlight(t *testing.T) {
	const docSize, docs = 2 << 20, 40
	padding := strings.Repeat("x", docSize)
	var stream strings.Builder
	for i := range docs {
		fmt.Fprintf(&stream, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {pad: %s}\n", i, padding)
	}
	var inFlight, most atomic.Int64
	delivered := 0
	(&Reader{Workers: 4, Virtual: map[string][]byte{"big.yaml": []byte(stream.String())}}).Walk(t.Context(), []string{"big.yaml"}, &Visitor{
		Prepare: func(d *Document) any {
			n := inFlight.Add(int64(len(d.Raw)))
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			return nil
		},
		Document: func(d *Document) {
			inFlight.Add(-int64(len(d.Raw)))
			delivered++
		},
		Error: func(p Problem) { t.Fatal(p) },
	})
	if delivered != docs {
		t.Fatalf("delivered %d documents, want %d", delivered, docs)
	}
	if limit := int64(windowBytes + docSize + 1<<10); most.Load() > limit {
		t.Errorf("%d bytes of documents were in flight at once, more than windowBytes and one document (%d)", most.Load(), limit)
	}
}
