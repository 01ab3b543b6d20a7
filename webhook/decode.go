package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/setwarden/setwarden/internal/kjson"
)

// validatorHandler runs an admission.Validator on a request whose kind the
// router has already matched. It decodes straight into the kind's typed
// object with kjson: controller-runtime's universal deserializer would first
// scan the whole object once more to sniff its apiVersion and kind, which
// the router already knows; that scan was the largest single cost of a
// decision.
type validatorHandler struct {
	validator admission.Validator[runtime.Object]
	// newObject returns an empty object of the request's kind.
	newObject func() runtime.Object
}

// withValidator returns the handler for one kind.
func withValidator(v admission.Validator[runtime.Object], newObject func() runtime.Object) admission.Handler {
	return &validatorHandler{validator: v, newObject: newObject}
}

// newObject returns a new, empty *K for T = *K.
func newObject[T runtime.Object]() T {
	var zero T
	return reflect.New(reflect.TypeOf(zero).Elem()).Interface().(T)
}

// Handle implements admission.Handler with controller-runtime's semantics
// for typed validators: CONNECT and DELETE are not judged.
func (h *validatorHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	ctx = admission.NewContextWithRequest(ctx, req)
	var warnings admission.Warnings
	var err error
	switch req.Operation {
	case admissionv1.Create:
		obj := h.newObject()
		if err := decodeRaw(req, req.Object, obj); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		warnings, err = h.validator.ValidateCreate(ctx, obj)
	case admissionv1.Update:
		obj, old := h.newObject(), h.newObject()
		if err := decodeRaw(req, req.Object, obj); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if err := decodeRaw(req, req.OldObject, old); err != nil {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("oldObject: %w", err))
		}
		warnings, err = h.validator.ValidateUpdate(ctx, old, obj)
	default:
		return admission.Allowed("")
	}
	if err != nil {
		return refused(err).WithWarnings(warnings...)
	}
	return admission.Allowed("").WithWarnings(warnings...)
}

// refused answers a request a handler refused: with the handler's own
// status (such as an Invalid status listing every field error), or a plain
// denial with the error's text.
func refused(err error) admission.Response {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &s}}
	}
	return admission.Denied(err.Error())
}

// decodeRaw decodes an admission request's object case-sensitively, as the
// API server's own JSON serializer does, and refuses an object whose
// apiVersion and kind differ from the request's (a crafted request).
func decodeRaw(req admission.Request, raw runtime.RawExtension, into runtime.Object) error {
	if len(raw.Raw) == 0 {
		return errors.New("the admission request has no object")
	}
	if err := kjson.Unmarshal(raw.Raw, into); err != nil {
		return fmt.Errorf("decoding the object: %w", err)
	}
	// The API server always sends apiVersion and kind; an object without
	// them takes the request's kind.
	want := schema.GroupVersionKind(req.Kind)
	if got := into.GetObjectKind().GroupVersionKind(); !got.Empty() && got != want {
		return fmt.Errorf("the object is %s, but the request's kind is %s", gvkString(got), gvkString(want))
	}
	return nil
}

// gvkString renders a kind as apiVersion/kind, such as apps/v1/DaemonSet.
func gvkString(gvk schema.GroupVersionKind) string {
	return gvk.GroupVersion().String() + "/" + gvk.Kind
}
