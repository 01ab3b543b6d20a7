package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// typed sets each object's apiVersion and kind, which the typed structs
// leave empty.
func typed(obj runtime.Object) runtime.Object {
	gv := admissionregistrationv1.SchemeGroupVersion
	switch o := obj.(type) {
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		o.SetGroupVersionKind(gv.WithKind("ValidatingAdmissionPolicy"))
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		o.SetGroupVersionKind(gv.WithKind("ValidatingAdmissionPolicyBinding"))
	case *admissionregistrationv1.MutatingAdmissionPolicy:
		o.SetGroupVersionKind(gv.WithKind("MutatingAdmissionPolicy"))
	case *admissionregistrationv1.MutatingAdmissionPolicyBinding:
		o.SetGroupVersionKind(gv.WithKind("MutatingAdmissionPolicyBinding"))
	}
	return obj
}

// WriteYAML writes the objects as a YAML stream, with a header comment.
func (s *Set) WriteYAML(w io.Writer, header string) error {
	var buf bytes.Buffer
	buf.WriteString(header)
	for _, obj := range s.Objects() {
		data, err := yaml.Marshal(typed(obj))
		if err != nil {
			return err
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteJSON writes the objects as a v1 List, as kubectl apply -f reads it.
func (s *Set) WriteJSON(w io.Writer) error {
	list := map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{}}
	var items []any
	for _, obj := range s.Objects() {
		items = append(items, typed(obj))
	}
	if items != nil {
		list["items"] = items
	}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the policies: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
