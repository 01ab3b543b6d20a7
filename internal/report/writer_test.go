package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/setwarden/setwarden/policies"
	goyaml "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// writerChecks are the checks the streamed outputs are compared on with
// the whole report.
var writerChecks = []struct {
	name string
	fill func(*Builder)
}{
	{name: "an empty check", fill: reportEmpty},
	{name: "a check with input errors only", fill: func(b *Builder) {
		b.AddError(Problem{File: "<stdin>", Line: 4, Message: `invalid YAML: "a" & <b>`})
		b.AddError(Problem{File: "gone.yaml", Object: &reportRedis, Message: "no such file or directory"})
	}},
	{name: "a check with notices and passing objects only", fill: func(b *Builder) {
		b.AddNotice(Problem{File: "blob.yaml", Message: "skipped: not UTF-8 text"})
		b.AddEvaluated("agent.yaml", 1, reportAgent, &policies.Report{Notices: []string{"annotation ignored"}}, nil,
			[]string{policies.RuleAgentTolerations})
	}},
	{name: "a check with findings, exemptions, skipped rules, notices and errors", fill: reportFull},
	{name: "a check whose files come back and whose errors are in files with findings", fill: writerInterleaved},
}

// writerInterleaved evaluates a.yaml, b.yaml and a.yaml again, with input
// errors in a.yaml and in c.yaml, which has no objects.
func writerInterleaved(b *Builder) {
	deny := &policies.Report{Findings: []policies.Finding{{Rule: policies.RuleStatefulSetServiceName, Action: policies.ActionDeny,
		Err: field.Required(field.NewPath("spec", "serviceName"), "set it to <a headless Service> & retry")}}}
	warn := &policies.Report{Findings: []policies.Finding{{Rule: policies.RuleTolerationValueFragile, Action: policies.ActionWarn,
		Err: field.Invalid(field.NewPath("spec", "tolerations").Index(0), "Equal", "use Exists")}}}
	rules := []string{policies.RuleStatefulSetServiceName, policies.RuleTolerationValueFragile}
	b.AddEvaluated("a.yaml", 1, reportRedis, deny, nil, rules)
	b.AddEvaluated("b.yaml", 1, reportAgent, warn, nil, rules)
	b.AddError(Problem{File: "c.yaml", Line: 2, Message: "invalid YAML"})
	b.AddEvaluated("a.yaml", 30, reportPod, &policies.Report{}, nil, rules)
	b.AddEvaluated("a.yaml", 60, reportPod, warn, nil, rules)
	b.AddError(Problem{File: "a.yaml", Line: 90, Message: "invalid YAML"})
}

func TestWriterJSONIsEncodingJSONOfTheWholeReport(t *testing.T) {
	for _, tt := range writerChecks {
		t.Run(tt.name+" streams the JSON encoding/json writes for the whole report", func(t *testing.T) {
			var got bytes.Buffer
			c := reportRun(t, tt.fill, NewJSON(&got))
			want, err := encodeIndented(&c.report)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("streamed JSON differs (-whole +streamed):\n%s", diff)
			}
		})
	}
}

func TestWriterYAMLIsTheYAMLOfTheWholeReport(t *testing.T) {
	for _, tt := range writerChecks {
		t.Run(tt.name+" streams the YAML of the whole report", func(t *testing.T) {
			var got bytes.Buffer
			c := reportRun(t, tt.fill, NewYAML(&got))
			want, err := yaml.Marshal(&c.report)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("streamed YAML differs (-whole +streamed):\n%s", diff)
			}
		})
	}
}

func TestWriterSARIFIsTheSARIFOfTheWholeReport(t *testing.T) {
	for _, tt := range writerChecks {
		t.Run(tt.name+" streams the SARIF log encoding/json writes for the whole run", func(t *testing.T) {
			var got bytes.Buffer
			c := reportRun(t, tt.fill, NewSARIF(&got))
			run := sarifRunOf(&c.report)
			index := map[string]int{}
			for i := range policies.Rules {
				index[policies.Rules[i].ID] = i
			}
			for i := range c.report.Results {
				run.Results = append(run.Results, sarifResultOf(&c.report.Results[i], index))
			}
			want, err := encodeIndented(sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("streamed SARIF differs (-whole +streamed):\n%s", diff)
			}
		})
	}
}

func TestWriterJUnitIsTheJUnitOfTheWholeReport(t *testing.T) {
	for _, tt := range writerChecks {
		for _, failOn := range []FailOn{FailOnDeny, FailOnWarn} {
			t.Run(tt.name+" streams the JUnit encoding/xml writes for the whole document with --fail-on "+string(failOn), func(t *testing.T) {
				var got bytes.Buffer
				c := reportRun(t, tt.fill, NewJUnit(&got, failOn))
				want := writerJUnitWhole(t, c, failOn)
				if diff := cmp.Diff(want, got.String()); diff != "" {
					t.Errorf("streamed JUnit differs (-whole +streamed):\n%s", diff)
				}
			})
		}
	}
}

// writerJUnitWhole builds the whole JUnit document of a check at once:
// the testcases of each file, in the order of the files' first testcase,
// then input errors.
func writerJUnitWhole(t *testing.T, c *reportCollector, failOn FailOn) string {
	t.Helper()
	root := JUnitSuites{Name: "setwarden"}
	suites := map[string]int{}
	add := func(file string, tc JUnitCase) {
		i, ok := suites[file]
		if !ok {
			i = len(root.Suites)
			suites[file] = i
			root.Suites = append(root.Suites, JUnitSuite{Name: file})
		}
		root.Suites[i].Cases = append(root.Suites[i].Cases, tc)
		root.Suites[i].count(&tc)
	}
	for _, o := range c.objects {
		for _, rule := range o.Rules {
			add(o.File, junitRuleCase(&o.Checked, o.Object.KindGroup()+" "+o.Object.NamespacedName(), rule, o.results, failOn))
		}
	}
	for _, e := range c.report.Errors {
		add(e.File, JUnitCase{Name: "read", Classname: e.File, File: e.File, Line: e.Line,
			Error: &JUnitResult{Message: withObject(e), Type: "InputError", Text: withObject(e)}})
	}
	for _, s := range root.Suites {
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Errors += s.Errors
		root.Skipped += s.Skipped
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n")
	return b.String()
}

func TestWriterTemporaryFilesAreRemoved(t *testing.T) {
	tests := []struct {
		name   string
		writer func(io.Writer) Writer
	}{
		{name: "the YAML writer removes the file its results wait in", writer: NewYAML},
		{name: "the SARIF writer removes the file its results wait in", writer: NewSARIF},
		{name: "the JUnit writer removes the file its testcases wait in",
			writer: func(w io.Writer) Writer { return NewJUnit(w, FailOnDeny) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			w := tt.writer(io.Discard)
			obj := &Checked{File: "a.yaml", Line: 1, Object: reportRedis, Rules: []string{policies.RuleStatefulSetServiceName}}
			if err := w.Object(obj, []Result{{Rule: policies.RuleStatefulSetServiceName, Action: policies.ActionDeny, Object: reportRedis}}); err != nil {
				t.Fatal(err)
			}
			if n := writerFiles(t, tmp); n != 1 {
				t.Fatalf("%d files in TMPDIR while writing, want 1", n)
			}
			if err := w.Finish(&Report{}); err != nil {
				t.Fatal(err)
			}
			if n := writerFiles(t, tmp); n != 0 {
				t.Errorf("%d files left in TMPDIR after Finish, want 0", n)
			}
		})
	}
}

func writerFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// writerFailing fails on its first object and counts its calls.
type writerFailing struct{ objects, finishes int }

func (w *writerFailing) Object(*Checked, []Result) error {
	w.objects++
	return errors.New("disk full")
}

func (w *writerFailing) Finish(*Report) error {
	w.finishes++
	return errors.New("disk still full")
}

func TestBuilderStopsWritingAfterAnError(t *testing.T) {
	w := &writerFailing{}
	b := NewBuilder(w)
	reportFull(b)
	r, err := b.Finish()
	got := []any{w.objects, w.finishes, err.Error(), r.Summary.Evaluated}
	want := []any{1, 1, "disk full", 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects written, Finish calls, error and objects counted (-want +got):\n%s", diff)
	}
}

// TestWriterJSONItemsIndent pins jsonArray to encoding/json's indentation
// on its own, beyond the reports above.
func TestWriterJSONItemsIndent(t *testing.T) {
	var got bytes.Buffer
	a := newJSONArray(&got, 2)
	got.WriteString("{\n  \"x\": [")
	for _, v := range []any{map[string]any{"a": []int{1, 2}, "b": map[string]any{}}, "<&>", 3} {
		if err := a.add(v); err != nil {
			t.Fatal(err)
		}
	}
	got.WriteString(a.end() + "\n}\n")
	want, _ := encodeIndented(map[string]any{"x": []any{map[string]any{"a": []int{1, 2}, "b": map[string]any{}}, "<&>", 3}})
	if got.String() != string(want) {
		t.Errorf("got\n%s\nwant\n%s", got.String(), want)
	}
	var v any
	if err := json.Unmarshal(got.Bytes(), &v); err != nil {
		t.Errorf("not JSON: %v", err)
	}
}

// TestJUnitRendersTestcasesAsEncodingXML compares the testcases rendered by
// hand with encoding/xml's rendering of the same testcase.
func TestJUnitRendersTestcasesAsEncodingXML(t *testing.T) {
	tricky := "a\"b'c&d<e>f\tg\nh\ri\x01j\xffk\uFFFDl é 😀"
	cases := []JUnitCase{
		{Name: "agent-tolerations", Classname: "DaemonSet.apps monitoring/agent", File: "agents/ds.yaml", Line: 12},
		{Name: "statefulset-service-name", Classname: "StatefulSet.apps default/db", File: "<stdin>"},
		{Name: tricky, Classname: tricky, File: tricky, Line: -1},
		{Name: "topology-key-unknown", Classname: "Pod default/p", Skipped: &JUnitSkipped{Message: "skipped for lack of data: " + tricky}},
		{Name: "r", Classname: "c", Skipped: &JUnitSkipped{}},
		{Name: "r", Classname: "c", File: "f.yaml", Line: 3, SystemOut: "f.yaml:3: Audit r: x"},
		{Name: "r", Classname: "c", Failures: []JUnitResult{{Message: tricky, Type: "Deny", Text: tricky}}},
	}
	for _, c := range cases {
		var want bytes.Buffer
		enc := xml.NewEncoder(&want)
		enc.Indent("    ", "  ")
		if err := enc.EncodeElement(&c, xml.StartElement{Name: xml.Name{Local: "testcase"}}); err != nil {
			t.Fatal(err)
		}
		enc.Flush()
		j := NewJUnit(io.Discard, FailOnDeny).(*junitWriter)
		if err := j.render(&c); err != nil {
			t.Fatal(err)
		}
		if got := j.buf.String(); got != "\n"+want.String() {
			t.Errorf("testcase %q rendered as\n%q\nwant\n%q", c.Name, got, "\n"+want.String())
		}
	}
}

// TestYAMLResultIsSigsYAML checks that a result renders as sigs.k8s.io/yaml
// renders it through JSON, and that yamlResult has every JSON field of
// Result and ObjectRef.
func TestYAMLResultIsSigsYAML(t *testing.T) {
	tricky := "a\"b'c: d #e\tf\ng\x01h\xffi\xfe\xfdj é 😀 \u2028"
	results := []Result{
		{Rule: "statefulset-service-name", Action: policies.ActionDeny, Object: ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "default", Name: "redis"},
			Field: "spec.serviceName", Message: "Required value: name the headless Service", File: "examples/broken/redis.yaml", Line: 4},
		{Rule: "r", Action: policies.ActionWarn, Object: ObjectRef{APIVersion: "v1", Kind: "Pod", Name: "p"}, File: "<stdin>"},
		{Rule: tricky, Action: policies.Action(tricky), Object: ObjectRef{APIVersion: tricky, Kind: tricky, Namespace: tricky, Name: tricky},
			Field: tricky, Message: tricky, File: tricky, Line: -7},
		{Rule: "true", Field: "123", Message: "null", File: "- x", Object: ObjectRef{Name: "~", Kind: "0x1F", APIVersion: "yes"}},
		{Message: "multi\nline\n\ntext ", Field: " leading space", File: "a: b"},
	}
	for _, r := range results {
		want, err := yaml.Marshal([]Result{r})
		if err != nil {
			t.Fatal(err)
		}
		got, err := goyaml.Marshal([]goyaml.MapSlice{yamlResult(&r)})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("result %q renders as\n%s\nwant (sigs.k8s.io/yaml)\n%s", r.Rule, got, want)
		}
	}
	// A field left empty in the cases above and omitted when empty would
	// escape the comparison: the keys must be the JSON fields, all of them.
	keys := func(ms goyaml.MapSlice) []string {
		var names []string
		for _, item := range ms {
			names = append(names, item.Key.(string))
		}
		return names
	}
	r := yamlResult(&Result{Object: ObjectRef{Namespace: "x"}})
	object := r[slices.IndexFunc(r, func(item goyaml.MapItem) bool { return item.Key == "object" })].Value.(goyaml.MapSlice)
	for _, c := range []struct {
		typ  reflect.Type
		keys []string
	}{{reflect.TypeFor[Result](), keys(r)}, {reflect.TypeFor[ObjectRef](), keys(object)}} {
		var want []string
		for i := range c.typ.NumField() {
			if name, _, _ := strings.Cut(c.typ.Field(i).Tag.Get("json"), ","); name != "-" {
				want = append(want, name)
			}
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, c.keys); diff != "" {
			t.Errorf("the keys yamlResult renders for %s differ from its JSON fields, sorted (-want +got):\n%s", c.typ.Name(), diff)
		}
	}
}
