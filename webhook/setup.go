package webhook

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// ValidatingWebhook returns the /validate webhook.
func (h *Handlers) ValidatingWebhook() *ReviewHandler {
	r := kindRouter{}
	add := func(gvk schema.GroupVersionKind, h admission.Handler) { r[gvk] = h }
	add(corev1.SchemeGroupVersion.WithKind("Pod"), withValidator(&Validator[*corev1.Pod]{h.Engines, h.View, h.Metrics}))
	add(corev1.SchemeGroupVersion.WithKind("ReplicationController"), withValidator(&Validator[*corev1.ReplicationController]{h.Engines, h.View, h.Metrics}))
	add(appsv1.SchemeGroupVersion.WithKind("Deployment"), withValidator(&Validator[*appsv1.Deployment]{h.Engines, h.View, h.Metrics}))
	add(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), withValidator(&Validator[*appsv1.ReplicaSet]{h.Engines, h.View, h.Metrics}))
	add(appsv1.SchemeGroupVersion.WithKind("StatefulSet"), withValidator(&Validator[*appsv1.StatefulSet]{h.Engines, h.View, h.Metrics}))
	add(appsv1.SchemeGroupVersion.WithKind("DaemonSet"), withValidator(&Validator[*appsv1.DaemonSet]{h.Engines, h.View, h.Metrics}))
	add(batchv1.SchemeGroupVersion.WithKind("Job"), withValidator(&Validator[*batchv1.Job]{h.Engines, h.View, h.Metrics}))
	add(batchv1.SchemeGroupVersion.WithKind("CronJob"), withValidator(&Validator[*batchv1.CronJob]{h.Engines, h.View, h.Metrics}))
	return &ReviewHandler{Webhook: &admission.Webhook{Handler: r}}
}
