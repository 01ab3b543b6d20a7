package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/setwarden/setwarden/internal/kjson"
	"github.com/setwarden/setwarden/internal/server"
)

// reviewVersions are the AdmissionReview versions the API server may send;
// v1beta1 has the same shape as v1 and is answered in v1beta1.
var reviewVersions = map[string]bool{"admission.k8s.io/v1": true, "admission.k8s.io/v1beta1": true}

// ReviewHandler is the HTTP front of one webhook: it decodes the
// AdmissionReview in one pass, refuses anything that is not a review with a
// request, lets the admission.Webhook decide, and answers in the review's
// version. It replaces controller-runtime's ServeHTTP, whose decoder scans
// every body twice (once to sniff its kind) and judges reviews of any
// apiVersion or kind, or with no request at all.
type ReviewHandler struct {
	// Webhook decides; its handler sees only well-formed requests.
	Webhook *admission.Webhook
}

var _ http.Handler = &ReviewHandler{}

// ServeHTTP implements http.Handler. The body size is bounded before this
// handler runs (LimitBody).
func (h *ReviewHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		writeReview(w, r, "", admission.Errored(http.StatusBadRequest, fmt.Errorf("contentType=%s, expected application/json", ct)))
		return
	}
	if r.Body == nil || r.Body == http.NoBody {
		writeReview(w, r, "", admission.Errored(http.StatusBadRequest, errors.New("request body is empty")))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			server.WriteTooLarge(w, -1, tooLarge.Limit)
			return
		}
		writeReview(w, r, "", admission.Errored(http.StatusBadRequest, fmt.Errorf("reading the request body: %w", err)))
		return
	}
	review := admissionv1.AdmissionReview{}
	if err := kjson.Unmarshal(body, &review); err != nil {
		writeReview(w, r, "", admission.Errored(http.StatusBadRequest, err))
		return
	}
	if !reviewVersions[review.APIVersion] || review.Kind != "AdmissionReview" {
		writeReview(w, r, "", admission.Errored(http.StatusBadRequest,
			fmt.Errorf("no kind %q is registered for version %q: send an admission.k8s.io/v1 AdmissionReview", review.Kind, review.APIVersion)))
		return
	}
	if review.Request == nil || review.Request.UID == "" {
		writeReview(w, r, review.APIVersion, admission.Errored(http.StatusBadRequest, errors.New("the AdmissionReview has no request")))
		return
	}
	resp := h.Webhook.Handle(r.Context(), admission.Request{AdmissionRequest: *review.Request})
	writeReview(w, r, review.APIVersion, resp)
}

// writeReview answers with an AdmissionReview of the request's version
// (v1 when unknown), as the API server expects even for bad requests.
func writeReview(w http.ResponseWriter, r *http.Request, apiVersion string, resp admission.Response) {
	if apiVersion == "" {
		apiVersion = "admission.k8s.io/v1"
	}
	out := admissionv1.AdmissionReview{Response: &resp.AdmissionResponse}
	out.APIVersion, out.Kind = apiVersion, "AdmissionReview"
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		logf.FromContext(r.Context()).Error(err, "Cannot write the admission response")
	}
}
