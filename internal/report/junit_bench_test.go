package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/setwarden/setwarden/policies"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// junitBenchObjects are 10,000 Deployments in 10 files, with the rules
// enabled for them by default, a Deny finding on every third and a Warn on
// every fifth, as a check of the generated corpus gives.
func junitBenchObjects() ([]Checked, [][]Result) {
	rules := EnabledRules(policies.DefaultConfig(), schema.GroupKind{Group: "apps", Kind: "Deployment"}, "shop")
	objs := make([]Checked, 10_000)
	results := make([][]Result, len(objs))
	for i := range objs {
		ref := ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop-" + strconv.Itoa(i%7), Name: "web-" + strconv.Itoa(i)}
		file := fmt.Sprintf("corpus/file-%02d.yaml", i/1_000)
		objs[i] = Checked{File: file, Line: 1 + 60*(i%1_000), Object: ref, Rules: rules}
		if i%3 == 0 && len(rules) > 0 {
			results[i] = append(results[i], Result{Rule: rules[0], Action: policies.ActionDeny, Object: ref,
				Field: "spec.template.spec.affinity", Message: "Required value: spread the replicas with a <podAntiAffinity> & a topology key",
				File: file, Line: objs[i].Line, FieldLine: objs[i].Line + 30})
		}
		if i%5 == 0 && len(rules) > 1 {
			results[i] = append(results[i], Result{Rule: rules[1], Action: policies.ActionWarn, Object: ref,
				Field: "spec.template.spec.tolerations[0]", Message: "Invalid value: \"Equal\": use Exists",
				File: file, Line: objs[i].Line, FieldLine: objs[i].Line + 40})
		}
	}
	return objs, results
}

// xmlJUnitWriter is the library alternative to junitWriter: it keeps the
// whole document in memory and has encoding/xml write it at the end.
type xmlJUnitWriter struct {
	w      io.Writer
	failOn FailOn
	root   JUnitSuites
	byFile map[string]int
}

func (x *xmlJUnitWriter) add(file string, c JUnitCase) {
	i, ok := x.byFile[file]
	if !ok {
		i = len(x.root.Suites)
		x.byFile[file] = i
		x.root.Suites = append(x.root.Suites, JUnitSuite{Name: file})
	}
	x.root.Suites[i].Cases = append(x.root.Suites[i].Cases, c)
	x.root.Suites[i].count(&c)
}

func (x *xmlJUnitWriter) Object(obj *Checked, results []Result) error {
	classname := obj.Object.KindGroup() + " " + obj.Object.NamespacedName()
	for _, rule := range obj.Rules {
		x.add(obj.File, junitRuleCase(obj, classname, rule, results, x.failOn))
	}
	return nil
}

func (x *xmlJUnitWriter) Finish(r *Report) error {
	for _, e := range r.Errors {
		x.add(e.File, JUnitCase{Name: "read", Classname: e.File, File: e.File, Line: e.Line,
			Error: &JUnitResult{Message: withObject(e), Type: "InputError", Text: withObject(e)}})
	}
	for _, s := range x.root.Suites {
		x.root.Tests += s.Tests
		x.root.Failures += s.Failures
		x.root.Errors += s.Errors
		x.root.Skipped += s.Skipped
	}
	io.WriteString(x.w, xml.Header)
	enc := xml.NewEncoder(x.w)
	enc.Indent("", "  ")
	if err := enc.Encode(x.root); err != nil {
		return err
	}
	_, err := io.WriteString(x.w, "\n")
	return err
}

// BenchmarkJUnit writes the JUnit report of junitBenchObjects with the
// streaming writer, which spools testcases to a file, and with encoding/xml
// writing the whole document from memory.
//
//	go test ./internal/report -run '^$' -bench JUnit
func BenchmarkJUnit(b *testing.B) {
	objs, results := junitBenchObjects()
	writers := []struct {
		name string
		new  func(io.Writer) Writer
	}{
		{"spooled", func(w io.Writer) Writer { return NewJUnit(w, FailOnDeny) }},
		{"inmemory", func(w io.Writer) Writer {
			return &xmlJUnitWriter{w: w, failOn: FailOnDeny, byFile: map[string]int{}, root: JUnitSuites{Name: "setwarden"}}
		}},
	}
	// Both write the same document.
	var first string
	for _, w := range writers {
		var out bytes.Buffer
		jw := w.new(&out)
		for i := range objs {
			jw.Object(&objs[i], results[i])
		}
		if err := jw.Finish(&Report{}); err != nil {
			b.Fatal(err)
		}
		if first == "" {
			first = out.String()
		} else if out.String() != first {
			b.Fatalf("%s writes another document", w.name)
		}
	}
	for _, w := range writers {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			var n countingWriter
			for b.Loop() {
				n = 0
				jw := w.new(&n)
				for i := range objs {
					if err := jw.Object(&objs[i], results[i]); err != nil {
						b.Fatal(err)
					}
				}
				if err := jw.Finish(&Report{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/(1<<20), "output-MiB")
		})
	}
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
