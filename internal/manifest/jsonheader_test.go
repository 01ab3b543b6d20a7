package manifest

import (
	"bytes"
	"reflect"

	"github.com/setwarden/setwarden/internal/fastyaml"
	"github.com/setwarden/setwarden/internal/kjson"
	"github.com/setwarden/setwarden/test/benchcorpus"

	"testing"
)

func TestSniffHeaderAgreesWithDecoding(t *testing.T) {
	tests := []struct {
		name string
		json string
		ok   bool
	}{
		{name: "a plain header is read", ok: true,
			json: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"}}`},
		{name: "strings ending in escaped backslashes and quotes are skipped", ok: true,
			json: `{"spec":{"a":"x\\","b":"\"q\"","c":"\\\"","d":["\\\\"]},"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`},
		{name: "a later duplicate wins and a null keeps the value", ok: true,
			json: `{"kind":"Service","kind":"Pod","apiVersion":"v1","apiVersion":null,"metadata":{"name":"a"},"metadata":{"namespace":"n"}}`},
		{name: "names that differ in case are other fields", ok: true,
			json: `{"Kind":"Pod","APIVERSION":"v1","Metadata":{"name":"x"},"Items":[]}`},
		{name: "an escaped header value is left to the decoder",
			json: `{"apiVersion":"v1","kind":"P\u006fd"}`},
		{name: "a List is left to the decoder",
			json: `{"apiVersion":"v1","kind":"List","items":[]}`},
		{name: "a header field of another type is left to the decoder",
			json: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sniffHeader([]byte(tt.json))
			if ok != tt.ok {
				t.Fatalf("sniffHeader(%s) ok = %v, want %v", tt.json, ok, tt.ok)
			}
			var want header
			if err := kjson.Unmarshal([]byte(tt.json), &want); ok && (err != nil || got.APIVersion != want.APIVersion ||
				got.Kind != want.Kind || got.Metadata != want.Metadata || want.Items != nil) {
				t.Errorf("sniffHeader(%s) = %+v, decoding gives %+v (%v)", tt.json, got, want, err)
			}
		})
	}
}

// TestSniffHeaderAgreesOnTheFastPathsJSON reads the header of the JSON the
// fast YAML path writes for generated workloads, which is what the reader
// sniffs most, and compares it with decoding.
func TestSniffHeaderAgreesOnTheFastPathsJSON(t *testing.T) {
	var gen bytes.Buffer
	if err := benchcorpus.Write(&gen, 10); err != nil {
		t.Fatal(err)
	}
	var fast fastyaml.Converter
	sniffed := 0
	for _, doc := range bytes.Split(gen.Bytes(), []byte("\n---\n")) {
		got, ok := fast.Convert(doc)
		if !ok {
			continue
		}
		h, ok := sniffHeader(got)
		if !ok {
			continue
		}
		sniffed++
		var want header
		if err := kjson.Unmarshal(got, &want); err != nil || !reflect.DeepEqual(h, want) {
			t.Errorf("sniffHeader = %+v, decoding gives %+v (%v) for\n%s", h, want, err, got)
		}
	}
	if sniffed == 0 {
		t.Error("no generated document was converted and sniffed")
	}
}
