package app

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/setwarden/setwarden/internal/server/certs"
)

const (
	tlsModeFiles       = "files"
	tlsModeSelfManaged = "self-managed"
)

// tlsOptions are the flags of the serving certificate.
type tlsOptions struct {
	mode        string
	selfManaged certs.SelfManaged
}

func (t *tlsOptions) bindFlags(cmd *cobra.Command) {
	flags := cmd.Flags()
	flags.StringVar(&t.mode, "tls-mode", tlsModeFiles, `where the serving certificate comes from: "files" (--cert-dir, e.g. from cert-manager or a Secret) or "self-managed"`)
	flags.StringVar(&t.selfManaged.SecretName, "tls-secret-name", "", "self-managed: the Secret that holds the CA and the serving certificate (must exist; setwarden never creates Secrets)")
	flags.StringVar(&t.selfManaged.SecretNamespace, "tls-secret-namespace", os.Getenv("POD_NAMESPACE"), "self-managed: namespace of the Secret and the Lease (default $POD_NAMESPACE)")
	flags.StringVar(&t.selfManaged.LeaseName, "tls-lease-name", "", "self-managed: the Lease that elects the one writer (default <webhook-config-name>-tls)")
	flags.StringVar(&t.selfManaged.WebhookConfigName, "webhook-config-name", "", "self-managed: name of both the Mutating- and the ValidatingWebhookConfiguration that get the CA bundle")
	flags.StringVar(&t.selfManaged.ServiceName, "service-name", "", "self-managed: the webhook Service, whose DNS names the serving certificate carries")
	flags.StringVar(&t.selfManaged.ServiceNamespace, "service-namespace", "", "self-managed: namespace of the webhook Service (default --tls-secret-namespace)")
	flags.DurationVar(&t.selfManaged.CAValidity, "tls-ca-validity", 365*24*time.Hour, "self-managed: lifetime of a generated CA")
	flags.DurationVar(&t.selfManaged.CertValidity, "tls-cert-validity", 90*24*time.Hour, "self-managed: lifetime of a generated serving certificate")
	flags.StringVar(&t.selfManaged.RotateBefore, "tls-rotate-before", "33%", "self-managed: renew a certificate this long before it expires: a fraction of its lifetime (33%, 0.33) or a duration (720h)")
	flags.DurationVar(&t.selfManaged.Propagation, "tls-propagation-delay", time.Minute, "self-managed: time a new CA bundle takes to reach the API servers, and a new certificate the replicas, before a CA rotation takes its next step")
	flags.DurationVar(&t.selfManaged.Resync, "tls-resync-interval", time.Minute, "self-managed: how often the leader re-checks the Secret and the CA bundles")
	flags.StringVar(&t.selfManaged.LeaderIdentity, "tls-leader-identity", "", "self-managed: this replica's identity in the Lease (default $POD_NAME or the host name, plus a unique suffix)")
}

// validate checks the TLS flags and completes the self-managed settings.
func (t *tlsOptions) validate() error {
	switch t.mode {
	case tlsModeFiles:
		return nil
	case tlsModeSelfManaged:
		return t.selfManaged.Complete()
	}
	return fmt.Errorf("--tls-mode %q is not supported; use %s or %s", t.mode, tlsModeFiles, tlsModeSelfManaged)
}
