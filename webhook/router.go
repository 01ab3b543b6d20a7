package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// kindRouter sends each request to the typed handler for its kind, so one
// webhook path serves every workload kind. Kinds setwarden does not know are
// admitted untouched: the webhook configuration should not send them.
type kindRouter map[schema.GroupVersionKind]admission.Handler

// Handle implements admission.Handler.
func (r kindRouter) Handle(ctx context.Context, req admission.Request) admission.Response {
	h, ok := r[schema.GroupVersionKind(req.Kind)]
	if !ok {
		return admission.Allowed(fmt.Sprintf("setwarden does not evaluate %s", req.Kind.String()))
	}
	return h.Handle(ctx, req)
}
