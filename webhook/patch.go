package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/go-json-experiment/json/jsontext"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// ScopedMutator is a Mutator that edits only the value at one place of the
// object, such as the pod template's tolerations. controller-runtime then
// computes the patch between that value before and after, with its path
// from the root, instead of between the whole objects: encoding the edited
// object and comparing the two (it decodes both into maps) was most of a
// mutation's cost. Where the value cannot be isolated, the whole objects
// are compared.
type ScopedMutator[T runtime.Object] interface {
	Mutator[T]
	// MutatedPath returns the object keys leading to the value the
	// mutator edits, from the root: {"spec", "template", "spec",
	// "tolerations"}. The mutator changes nothing outside it.
	MutatedPath() []string
	// MutatedValue returns the value at MutatedPath in obj.
	MutatedValue(obj T) any
}

// patch answers with the JSON patch from the request's raw object to the
// mutated obj: over the edited value alone for a ScopedMutator, else over
// the whole objects, as controller-runtime's defaulter computes it; either
// way without removing what decoding into T lost.
func (h *mutatorHandler[T]) patch(raw []byte, obj T) admission.Response {
	resp, ok := admission.Response{}, false
	if scoped, isScoped := h.mutator.(ScopedMutator[T]); isScoped {
		resp, ok = scopedPatch(scoped, raw, obj)
	}
	if !ok {
		mutated, err := json.Marshal(obj)
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		resp = admission.PatchResponseFromRaw(raw, mutated)
	}
	if err := keepUnknownFields[T](&resp, raw); err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return resp
}

// scopedPatch answers with the JSON patch from raw to obj, computed by
// controller-runtime over the value m edits alone; ok is false when that
// value cannot be isolated in raw.
func scopedPatch[T runtime.Object](m ScopedMutator[T], raw []byte, obj T) (resp admission.Response, ok bool) {
	path := m.MutatedPath()
	value, err := json.Marshal(m.MutatedValue(obj))
	if err != nil || bytes.Equal(value, []byte("null")) {
		// null: the whole object's encoding would omit the field.
		return resp, false
	}
	before, err := isolate(raw, path)
	if err != nil {
		return resp, false
	}
	return admission.PatchResponseFromRaw(before, nest(path, len(path)-1, value)), true
}

// errNotIsolated says the value at a path cannot be taken out of its
// document alone: the whole documents are compared instead.
var errNotIsolated = errors.New("the value cannot be isolated from its document")

// isolate returns a document holding only the value at path in doc and the
// objects leading to it, as far as they exist in doc: the same paths as in
// doc, and nothing else to compare.
func isolate(doc []byte, path []string) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(doc))
	present, value, err := find(dec, path)
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, errNotIsolated // more after the document
	}
	return nest(path, present, value), nil
}

// nest returns the document {"path[0]": {... {"path[present-1]": {V}}}},
// where V is `"path[last]": value`, or nothing when value is nil.
func nest(path []string, present int, value []byte) []byte {
	out := make([]byte, 0, len(value)+16*len(path))
	for _, name := range path[:present] {
		out = append(out, '{')
		out, _ = jsontext.AppendQuote(out, name)
		out = append(out, ':')
	}
	out = append(out, '{')
	if value != nil {
		out, _ = jsontext.AppendQuote(out, path[len(path)-1])
		out = append(out, ':')
		out = append(out, value...)
	}
	for range present + 1 {
		out = append(out, '}')
	}
	return out
}

// find reads the object dec is at, whole, and returns how many of the
// objects leading to the value at path it holds, and the value if it is
// there. Reading every name of those objects makes the decoder refuse a
// duplicate name, where a full decoding might take the other value; a
// null or non-object on the way cannot be isolated either.
func find(dec *jsontext.Decoder, path []string) (present int, value jsontext.Value, err error) {
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return 0, nil, errNotIsolated
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return 0, nil, err
		}
		switch {
		case name.String() != path[0]:
			err = dec.SkipValue()
		case len(path) == 1:
			var v jsontext.Value
			v, err = dec.ReadValue()
			value = v.Clone()
		default:
			var n int
			n, value, err = find(dec, path[1:])
			present = n + 1
		}
		if err != nil {
			return 0, nil, err
		}
	}
	_, err = dec.ReadToken()
	return present, value, err
}
