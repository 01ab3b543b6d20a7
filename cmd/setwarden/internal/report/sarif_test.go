package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSARIFValidatesAgainstTheSchema validates the SARIF of a report that
// uses every part of the format, and the golden SARIF of `setwarden check
// examples/` (written by the app package's golden test).
func TestSARIFValidatesAgainstTheSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schemaFile := filepath.Join("testdata", "sarif-2.1.0-subset.schema.json")
	schema, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatalf("compiling %s: %v", schemaFile, err)
	}
	var full bytes.Buffer
	reportRun(t, reportFull, NewSARIF(&full))
	golden, err := os.ReadFile(filepath.Join("..", "..", "app", "testdata", "examples.sarif"))
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
	t.Run("a property SARIF does not define is rejected", func(t *testing.T) {
		doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rule": []}}}]}`)))
		if schema.Validate(doc) == nil {
			t.Errorf("an unknown driver property validated: the schema is too loose")
		}
	})
}
