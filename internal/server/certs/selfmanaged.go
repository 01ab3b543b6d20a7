package certs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// SelfManaged is self-managed TLS: setwarden generates a CA and a serving
// certificate into a Secret, injects the CA bundle into its webhook
// configurations and rotates both; one replica, elected with a Lease,
// writes. Its fields are serve's --tls-* flags.
type SelfManaged struct {
	SecretName        string
	SecretNamespace   string
	LeaseName         string
	WebhookConfigName string
	ServiceName       string
	ServiceNamespace  string
	CAValidity        time.Duration
	CertValidity      time.Duration
	RotateBefore      string
	Propagation       time.Duration
	Resync            time.Duration
	LeaderIdentity    string

	policy Policy
}

// Complete checks the settings, fills the defaults that depend on others
// and builds the certificate policy. Its errors name serve's flags.
func (t *SelfManaged) Complete() error {
	// A slice, not a map: the error names the first missing flag, every time.
	for _, f := range []struct{ flag, value string }{
		{"--tls-secret-name", t.SecretName}, {"--tls-secret-namespace", t.SecretNamespace},
		{"--webhook-config-name", t.WebhookConfigName}, {"--service-name", t.ServiceName},
	} {
		if f.value == "" {
			return fmt.Errorf("%s is required with --tls-mode=self-managed", f.flag)
		}
	}
	if t.ServiceNamespace == "" {
		t.ServiceNamespace = t.SecretNamespace
	}
	if t.LeaseName == "" {
		t.LeaseName = t.WebhookConfigName + "-tls"
	}
	if t.Resync <= 0 {
		return fmt.Errorf("--tls-resync-interval must be positive, got %s", t.Resync)
	}
	rotateBefore, err := ParseRotateBefore(t.RotateBefore)
	if err != nil {
		return fmt.Errorf("--tls-rotate-before: %w", err)
	}
	svc := t.ServiceName + "." + t.ServiceNamespace + ".svc"
	t.policy = Policy{
		DNSNames:     []string{svc, svc + ".cluster.local"},
		CAValidity:   t.CAValidity,
		CertValidity: t.CertValidity,
		RotateBefore: rotateBefore,
		Propagation:  t.Propagation,
	}
	if err := t.policy.Validate(); err != nil {
		return fmt.Errorf("self-managed TLS flags: %w", err)
	}
	return nil
}

// Policy returns the certificate policy Complete built.
func (t *SelfManaged) Policy() Policy { return t.policy }

// SecretCache scopes the manager's Secret informer to the one certificate
// Secret, so RBAC can grant list and watch by resourceNames.
func (t *SelfManaged) SecretCache() cache.ByObject {
	return cache.ByObject{
		Namespaces: map[string]cache.Config{t.SecretNamespace: {}},
		Field:      fields.OneTermEqualSelector("metadata.name", t.SecretName),
	}
}

// Setup makes every replica serve the certificate the Secret holds, and the
// Lease holder keep that Secret and the CA bundles current.
func (t *SelfManaged) Setup(ctx context.Context, mgr manager.Manager, restCfg *rest.Config, store *Store) error {
	log := logf.Log.WithName("tls")
	rotator := &Rotator{
		Reader:            mgr.GetAPIReader(),
		Writer:            mgr.GetClient(),
		Secret:            types.NamespacedName{Namespace: t.SecretNamespace, Name: t.SecretName},
		WebhookConfigName: t.WebhookConfigName,
		Policy:            t.policy,
		Resync:            t.Resync,
	}
	informer, err := mgr.GetCache().GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("watching the certificate Secret: %w", err)
	}
	if _, err := informer.AddEventHandler(store.SecretHandler(logf.IntoContext(ctx, log), rotator.Trigger)); err != nil {
		return err
	}
	leases, err := coordinationv1client.NewForConfigAndClient(restCfg, mgr.GetHTTPClient())
	if err != nil {
		return err
	}
	identity, err := t.identity()
	if err != nil {
		return err
	}
	log.Info("Self-managed TLS", "secret", rotator.Secret.String(), "webhookConfigurations", t.WebhookConfigName,
		"dnsNames", t.policy.DNSNames, "lease", t.LeaseName, "identity", identity)
	return mgr.Add(&Elected{
		Leases:   leases,
		Lease:    metav1.ObjectMeta{Namespace: t.SecretNamespace, Name: t.LeaseName},
		Identity: identity,
		Rotator:  rotator,
	})
}

// identity names this replica in the Lease: unique, and readable in
// `kubectl get lease`.
func (t *SelfManaged) identity() (string, error) {
	if t.LeaderIdentity != "" {
		return t.LeaderIdentity, nil
	}
	name := os.Getenv("POD_NAME")
	if name == "" {
		host, err := os.Hostname()
		if err != nil {
			return "", errors.New("no --tls-leader-identity, $POD_NAME or host name to name this replica in the Lease")
		}
		name = host
	}
	return name + "_" + rand.Text()[:8], nil
}
