package webhook

import (
	"github.com/setwarden/setwarden/policies"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

const (
	// MutatePath serves the mutating webhook (agent DaemonSets).
	MutatePath = "/mutate"
	// ValidatePath serves the validating webhook (every workload kind).
	ValidatePath = "/validate"
)

// Handlers holds what the admission handlers share.
type Handlers struct {
	Engines *EngineStore
	View    *CacheView
	Metrics *Metrics
}

// Register adds the /mutate and /validate handlers to the webhook server.
func (h *Handlers) Register(server webhook.Server) {
	server.Register(MutatePath, h.MutatingWebhook())
	server.Register(ValidatePath, h.ValidatingWebhook())
}

// MutatingWebhook returns the /mutate webhook.
func (h *Handlers) MutatingWebhook() *ReviewHandler {
	mutate := withMutator(&AgentTolerations{Engines: h.Engines, Metrics: h.Metrics})
	return &ReviewHandler{Webhook: &admission.Webhook{Handler: kindRouter{appsv1.SchemeGroupVersion.WithKind("DaemonSet"): mutate}}}
}

// ValidatingWebhook returns the /validate webhook: one validator for every
// workload kind of policies.Kinds.
func (h *Handlers) ValidatingWebhook() *ReviewHandler {
	v := &Validator{Engines: h.Engines, View: h.View, Metrics: h.Metrics}
	r := kindRouter{}
	for _, k := range policies.Kinds() {
		r[k.GroupVersionKind] = withValidator(v, k.New)
	}
	return &ReviewHandler{Webhook: &admission.Webhook{Handler: r}}
}
