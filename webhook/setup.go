package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/setwarden/setwarden/internal/server"
	"github.com/setwarden/setwarden/policies"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
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

// Setup registers the admission handlers and the config watcher,
// and starts the Service and Node informers so readiness waits for them.
func Setup(ctx context.Context, mgr manager.Manager, cfg *policies.Config, raw []byte, configPath string, configInterval time.Duration) error {
	m := NewMetrics(metrics.Registry)
	engines := NewEngineStore(policies.NewEngine(cfg))
	h := &Handlers{
		Engines: engines,
		View:    &CacheView{Cache: mgr.GetCache(), APIReader: mgr.GetAPIReader()},
		Metrics: m,
	}
	h.Register(mgr.GetWebhookServer())
	for _, obj := range []client.Object{&corev1.Service{}, &corev1.Node{}} {
		informer, err := mgr.GetCache().GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("starting informer for %T: %w", obj, err)
		}
		if _, ok := obj.(*corev1.Node); ok {
			if err := h.View.WatchNodes(informer); err != nil {
				return err
			}
		}
	}
	if err := mgr.Add(&server.ReleaseAfterSync{Cache: mgr.GetCache()}); err != nil {
		return err
	}
	if configPath != "" {
		w := &ConfigWatcher{Path: configPath, Interval: configInterval, Store: engines, Metrics: m, Loaded: raw}
		if err := mgr.Add(w); err != nil {
			return err
		}
	}
	return nil
}
