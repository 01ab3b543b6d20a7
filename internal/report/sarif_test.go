package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/setwarden/setwarden/internal/version"
)

// TestSARIFValidatesAgainstTheSchema validates the SARIF of a report that
// uses every part of the format, and the golden SARIF of `setwarden check
// examples/` (written by the app package's golden test), against the
// official SARIF 2.1.0 schema (OASIS, errata 01: testdata/README.md says
// where the copy comes from).
func TestSARIFValidatesAgainstTheSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schemaFile := filepath.Join("testdata", "sarif-schema-2.1.0.json")
	schema, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatalf("compiling %s: %v", schemaFile, err)
	}
	var full bytes.Buffer
	reportRun(t, reportFull, NewSARIF(&full))
	golden, err := os.ReadFile(filepath.Join("..", "..", "cmd", "setwarden", "app", "testdata", "examples.sarif"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{name: "a report with findings, input errors and stdin validates", data: full.Bytes()},
		{name: "the SARIF of the examples validates", data: golden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if err := schema.Validate(doc); err != nil {
				t.Errorf("does not validate: %v", err)
			}
		})
	}
	// The schema must be strict enough to catch what a SARIF consumer
	// (GitHub code scanning) refuses.
	invalid := []struct {
		name string
		data string
	}{
		{name: "a property SARIF does not define is rejected",
			data: `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rule": []}}}]}`},
		{name: "a result without a message is rejected",
			data: `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "r"}]}]}`},
		{name: "a level SARIF does not define is rejected",
			data: `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "level": "deny"}]}]}`},
		{name: "a start line before the first line is rejected",
			data: `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.yaml"}, "region": {"startLine": 0}}}]}]}]}`},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(tt.data)))
			if err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if schema.Validate(doc) == nil {
				t.Errorf("validated: the schema is too loose")
			}
		})
	}
}

func TestSARIFDeclaresTheVersionOfTheBinary(t *testing.T) {
	var out bytes.Buffer
	reportRun(t, reportFull, NewSARIF(&out))
	var doc struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Version string `json:"version"`
				} `json:"driver"`
			} `json:"tool"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Runs) != 1 {
		t.Fatalf("SARIF %s: %v", out.String(), err)
	}
	if got, want := doc.Runs[0].Tool.Driver.Version, version.Get().Short(); got == "" || got != want {
		t.Errorf("tool.driver.version = %q, want %q (setwarden version's)", got, want)
	}
}
