package manifest

import (
	"github.com/setwarden/setwarden/policies/kjson"

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
