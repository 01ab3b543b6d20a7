package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/setwarden/setwarden/webhook/certs"
)

const (
	tlsModeFiles       = "files"
	tlsModeSelfManaged = "self-managed"
)

// tlsOptions are the flags of self-managed TLS.
type tlsOptions struct {
	mode              string
	secretName        string
	secretNamespace   string
	leaseName         string
	webhookConfigName string
	serviceName       string
	serviceNamespace  string
	caValidity        time.Duration
	certValidity      time.Duration
	rotateBefore      string
	propagation       time.Duration
	resync            time.Duration
	leaderIdentity    string

	policy certs.Policy
}

func (t *tlsOptions) bindFlags(cmd *cobra.Command) {
	flags := cmd.Flags()
	flags.StringVar(&t.mode, "tls-mode", tlsModeFiles, `where the serving certificate comes from: "files" (--cert-dir, e.g. from cert-manager or a Secret) or "self-managed"`)
	flags.StringVar(&t.secretName, "tls-secret-name", "", "self-managed: the Secret that holds the CA and the serving certificate (must exist; setwarden never creates Secrets)")
	flags.StringVar(&t.secretNamespace, "tls-secret-namespace", os.Getenv("POD_NAMESPACE"), "self-managed: namespace of the Secret and the Lease (default $POD_NAMESPACE)")
	flags.StringVar(&t.leaseName, "tls-lease-name", "", "self-managed: the Lease that elects the one writer (default <webhook-config-name>-tls)")
	flags.StringVar(&t.webhookConfigName, "webhook-config-name", "", "self-managed: name of both the Mutating- and the ValidatingWebhookConfiguration that get the CA bundle")
	flags.StringVar(&t.serviceName, "service-name", "", "self-managed: the webhook Service, whose DNS names the serving certificate carries")
	flags.StringVar(&t.serviceNamespace, "service-namespace", "", "self-managed: namespace of the webhook Service (default --tls-secret-namespace)")
	flags.DurationVar(&t.caValidity, "tls-ca-validity", 365*24*time.Hour, "self-managed: lifetime of a generated CA")
	flags.DurationVar(&t.certValidity, "tls-cert-validity", 90*24*time.Hour, "self-managed: lifetime of a generated serving certificate")
	flags.StringVar(&t.rotateBefore, "tls-rotate-before", "33%", "self-managed: renew a certificate this long before it expires: a fraction of its lifetime (33%, 0.33) or a duration (720h)")
	flags.DurationVar(&t.propagation, "tls-propagation-delay", time.Minute, "self-managed: time a new CA bundle takes to reach the API servers, and a new certificate the replicas, before a CA rotation takes its next step")
	flags.DurationVar(&t.resync, "tls-resync-interval", time.Minute, "self-managed: how often the leader re-checks the Secret and the CA bundles")
	flags.StringVar(&t.leaderIdentity, "tls-leader-identity", "", "self-managed: this replica's identity in the Lease (default $POD_NAME or the host name, plus a unique suffix)")
}

// validate checks the self-managed flags and builds the certificate policy.
func (t *tlsOptions) validate() error {
	switch t.mode {
	case tlsModeFiles:
		return nil
	case tlsModeSelfManaged:
	default:
		return fmt.Errorf("--tls-mode %q is not supported; use %s or %s", t.mode, tlsModeFiles, tlsModeSelfManaged)
	}
	// A slice, not a map: the error names the first missing flag, every time.
	for _, f := range []struct{ flag, value string }{
		{"--tls-secret-name", t.secretName}, {"--tls-secret-namespace", t.secretNamespace},
		{"--webhook-config-name", t.webhookConfigName}, {"--service-name", t.serviceName},
	} {
		if f.value == "" {
			return fmt.Errorf("%s is required with --tls-mode=self-managed", f.flag)
		}
	}
	if t.serviceNamespace == "" {
		t.serviceNamespace = t.secretNamespace
	}
	if t.leaseName == "" {
		t.leaseName = t.webhookConfigName + "-tls"
	}
	if t.resync <= 0 {
		return fmt.Errorf("--tls-resync-interval must be positive, got %s", t.resync)
	}
	rotateBefore, err := certs.ParseRotateBefore(t.rotateBefore)
	if err != nil {
		return fmt.Errorf("--tls-rotate-before: %w", err)
	}
	svc := t.serviceName + "." + t.serviceNamespace + ".svc"
	t.policy = certs.Policy{
		DNSNames:     []string{svc, svc + ".cluster.local"},
		CAValidity:   t.caValidity,
		CertValidity: t.certValidity,
		RotateBefore: rotateBefore,
		Propagation:  t.propagation,
	}
	if err := t.policy.Validate(); err != nil {
		return fmt.Errorf("self-managed TLS flags: %w", err)
	}
	return nil
}

// secretCache scopes the manager's Secret informer to the one certificate
// Secret, so RBAC can grant list and watch by resourceNames.
func (t *tlsOptions) secretCache() cache.ByObject {
	return cache.ByObject{
		Namespaces: map[string]cache.Config{t.secretNamespace: {}},
		Field:      fields.OneTermEqualSelector("metadata.name", t.secretName),
	}
}

// setup makes every replica serve the certificate the Secret holds, and the
// Lease holder keep that Secret and the CA bundles current.
func (t *tlsOptions) setup(ctx context.Context, mgr manager.Manager, restCfg *rest.Config, store *certs.Store) error {
	log := logf.Log.WithName("tls")
	rotator := &certs.Rotator{
		Reader:            mgr.GetAPIReader(),
		Writer:            mgr.GetClient(),
		Secret:            types.NamespacedName{Namespace: t.secretNamespace, Name: t.secretName},
		WebhookConfigName: t.webhookConfigName,
		Policy:            t.policy,
		Resync:            t.resync,
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
	log.Info("Self-managed TLS", "secret", rotator.Secret.String(), "webhookConfigurations", t.webhookConfigName,
		"dnsNames", t.policy.DNSNames, "lease", t.leaseName, "identity", identity)
	return mgr.Add(&certs.Elected{
		Leases:   leases,
		Lease:    metav1.ObjectMeta{Namespace: t.secretNamespace, Name: t.leaseName},
		Identity: identity,
		Rotator:  rotator,
	})
}

// identity names this replica in the Lease: unique, and readable in
// `kubectl get lease`.
func (t *tlsOptions) identity() (string, error) {
	if t.leaderIdentity != "" {
		return t.leaderIdentity, nil
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
