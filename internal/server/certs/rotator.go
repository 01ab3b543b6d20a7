package certs

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Rotator keeps the certificate Secret and the CA bundles of setwarden's
// webhook configurations up to date. Only the elected replica runs it. It
// reads with live GETs and writes with optimistic concurrency, so a stale
// leader's write fails with a conflict instead of undoing a newer one.
type Rotator struct {
	// Reader reads the Secret and the webhook configurations from the API
	// server (the manager's API reader: no informer, so no list or watch).
	Reader client.Reader
	// Writer updates them.
	Writer client.Writer
	// Secret names the certificate Secret, which must exist.
	Secret types.NamespacedName
	// WebhookConfigName names both the Mutating- and the
	// ValidatingWebhookConfiguration.
	WebhookConfigName string
	// Policy says what to generate and when to rotate.
	Policy Policy
	// Resync bounds the time between two checks, so a CA bundle removed
	// from a webhook configuration (say by a helm upgrade) comes back.
	Resync time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	triggerOnce sync.Once
	trigger     chan struct{}
}

// Trigger asks a running Rotator to reconcile now; it never blocks.
func (r *Rotator) Trigger() {
	select {
	case r.triggerChan() <- struct{}{}:
	default:
	}
}

func (r *Rotator) triggerChan() chan struct{} {
	r.triggerOnce.Do(func() { r.trigger = make(chan struct{}, 1) })
	return r.trigger
}

// Run reconciles until ctx is done: at once, when triggered, when Plan says
// the next step is due, and at least every Resync. Errors are retried with
// a short backoff.
func (r *Rotator) Run(ctx context.Context) {
	log := logf.FromContext(ctx)
	trigger := r.triggerChan()
	backoff := 200 * time.Millisecond
	for {
		next, err := r.Reconcile(ctx)
		wait := time.Until(next)
		if err != nil {
			log.Error(err, "Cannot reconcile the serving certificate; retrying", "in", backoff)
			wait, backoff = backoff, min(2*backoff, 30*time.Second)
		} else {
			backoff = 200 * time.Millisecond
		}
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-trigger:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// Reconcile brings the Secret and the CA bundles to the planned state and
// returns when it should run again.
func (r *Rotator) Reconcile(ctx context.Context) (time.Time, error) {
	log := logf.FromContext(ctx)
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	secret := &corev1.Secret{}
	if err := r.Reader.Get(ctx, r.Secret, secret); err != nil {
		return now, fmt.Errorf("reading the certificate Secret %s (setwarden never creates it: the chart does): %w", r.Secret, err)
	}
	state, d, err := Plan(r.Policy, StateFromSecret(secret.Data), now)
	if err != nil {
		return now, err
	}
	data, err := SecretData(state)
	if err != nil {
		return now, err
	}
	if d.Changed {
		secret.Data = data
		if err := r.Writer.Update(ctx, secret); err != nil {
			return now, fmt.Errorf("writing the certificate Secret %s: %w", r.Secret, err)
		}
		log.Info("Wrote certificate Secret", "secret", klog.KObj(secret), "reasons", d.Reasons,
			"signingCA", state.CA.Cert.Subject.CommonName, "bundle", len(state.Bundle), "servingNotAfter", state.Serving.Cert.NotAfter)
	}
	if err := r.injectAll(ctx, data[KeyCABundle]); err != nil {
		return now, err
	}
	next := d.Next
	if r.Resync > 0 && now.Add(r.Resync).Before(next) {
		next = now.Add(r.Resync)
	}
	return next, nil
}

func (r *Rotator) injectAll(ctx context.Context, bundle []byte) error {
	key := client.ObjectKey{Name: r.WebhookConfigName}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := r.Reader.Get(ctx, key, mutating); err != nil {
		return fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", r.WebhookConfigName, err)
	}
	var clientConfigs []*admissionregistrationv1.WebhookClientConfig
	for i := range mutating.Webhooks {
		clientConfigs = append(clientConfigs, &mutating.Webhooks[i].ClientConfig)
	}
	if err := r.inject(ctx, "MutatingWebhookConfiguration", mutating, clientConfigs, bundle); err != nil {
		return err
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := r.Reader.Get(ctx, key, validating); err != nil {
		return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", r.WebhookConfigName, err)
	}
	clientConfigs = nil
	for i := range validating.Webhooks {
		clientConfigs = append(clientConfigs, &validating.Webhooks[i].ClientConfig)
	}
	return r.inject(ctx, "ValidatingWebhookConfiguration", validating, clientConfigs, bundle)
}

func (r *Rotator) inject(ctx context.Context, kind string, obj client.Object, clientConfigs []*admissionregistrationv1.WebhookClientConfig, bundle []byte) error {
	if !SetCABundle(clientConfigs, bundle) {
		return nil
	}
	if err := r.Writer.Update(ctx, obj); err != nil {
		if apierrors.IsConflict(err) {
			r.Trigger()
		}
		return fmt.Errorf("injecting the CA bundle into %s %s: %w", kind, obj.GetName(), err)
	}
	logf.FromContext(ctx).Info("Injected CA bundle", "kind", kind, "name", obj.GetName(), "webhooks", len(clientConfigs))
	return nil
}

// SetCABundle sets bundle on every client config and reports whether any
// changed.
func SetCABundle(clientConfigs []*admissionregistrationv1.WebhookClientConfig, bundle []byte) bool {
	changed := false
	for _, cc := range clientConfigs {
		if !bytes.Equal(cc.CABundle, bundle) {
			cc.CABundle = bytes.Clone(bundle)
			changed = true
		}
	}
	return changed
}
