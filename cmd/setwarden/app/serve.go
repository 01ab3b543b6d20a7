package app

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/setwarden/setwarden/internal/server"
	"github.com/setwarden/setwarden/internal/server/certs"
	swwebhook "github.com/setwarden/setwarden/webhook"
)

// serveOptions are the flags of `setwarden serve`.
type serveOptions struct {
	port             int
	certDir          string
	configPath       string
	configInterval   time.Duration
	metrics          server.Metrics
	probeAddr        string
	pprofAddr        string
	tlsMinVersion    string
	enableHTTP2      bool
	zap              zap.Options
	kubeconfig       string
	webhookHost      string
	gracefulShutdown time.Duration
	shutdownDrain    time.Duration
	drainDefaulted   bool
	maxRequestBytes  int64
	readHeaderTime   time.Duration
	tls              tlsOptions
}

var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

func newServeCommand(streams Streams) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the admission webhooks",
		Long: `Serve setwarden's admission webhooks: /mutate adds control-plane tolerations to
agent DaemonSets, /validate enforces the StatefulSet and affinity policies.

With --tls-mode=files (the default) the serving certificate is read from
--cert-dir (tls.crt, tls.key) and reloaded when it changes. With
--tls-mode=self-managed setwarden generates a CA and a serving certificate into
--tls-secret-name, injects the CA bundle into its webhook configurations and
rotates both before they expire; one replica, elected with a Lease, writes.

The PolicyConfig from --config is reloaded when it changes, and an invalid new
version is rejected while the last good one stays in force.

On SIGTERM readiness turns false at once, requests are still served for
--shutdown-drain-delay, then the listener closes and in-flight requests finish.

With --metrics-secure, metrics are served over HTTPS, only to callers whose
token the API server accepts and who may get the non-resource URL /metrics.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.drainDefaulted = !cmd.Flags().Changed("shutdown-drain-delay")
			return o.run(cmd.Context(), streams)
		},
	}
	o.bindFlags(cmd)
	return cmd
}

// bindFlags adds the serve flags to cmd, bound to o.
func (o *serveOptions) bindFlags(cmd *cobra.Command) {
	flags := cmd.Flags()
	flags.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config)")
	flags.IntVar(&o.port, "port", server.DefaultPort, "webhook server port")
	flags.StringVar(&o.webhookHost, "host", "", "webhook server address (default: all addresses)")
	flags.StringVar(&o.certDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "directory holding tls.crt and tls.key")
	flags.StringVar(&o.configPath, "config", "", "PolicyConfig file, watched for changes (default: built-in defaults)")
	flags.DurationVar(&o.configInterval, "config-poll-interval", 2*time.Second, "how often the PolicyConfig file is checked for changes")
	flags.StringVar(&o.metrics.Addr, "metrics-bind-address", ":8080", `metrics address, "0" to disable`)
	flags.BoolVar(&o.metrics.Secure, "metrics-secure", false, "serve metrics over HTTPS to callers the API server authenticates (TokenReview) and authorizes to get /metrics (SubjectAccessReview)")
	flags.StringVar(&o.metrics.CertDir, "metrics-cert-dir", "", "with --metrics-secure: directory holding tls.crt and tls.key for the metrics server (default: a self-signed certificate)")
	flags.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "health and readiness probe address")
	flags.StringVar(&o.pprofAddr, "pprof-bind-address", "", `Go profiler (/debug/pprof/) address, for diagnosis: off when empty or "0"; it has no authentication, so bind it to 127.0.0.1 and use kubectl port-forward`)
	flags.StringVar(&o.tlsMinVersion, "tls-min-version", "1.3", "minimum TLS version: 1.2 or 1.3")
	flags.BoolVar(&o.enableHTTP2, "enable-http2", false, "serve HTTP/2 (off by default: see CVE-2023-44487)")
	flags.DurationVar(&o.gracefulShutdown, "graceful-shutdown-timeout", 30*time.Second, "how long the whole shutdown may take, drain delay included")
	flags.DurationVar(&o.shutdownDrain, "shutdown-drain-delay", 5*time.Second, "how long the webhook server keeps serving after SIGTERM, so endpoints drop this replica first")
	flags.Int64Var(&o.maxRequestBytes, "max-request-bytes", 3<<20, "largest admission request body served; larger ones are answered 413")
	flags.DurationVar(&o.readHeaderTime, "read-header-timeout", 10*time.Second, "how long a client may take to send its request headers")
	o.tls.bindFlags(cmd)
	zapFlags := flag.NewFlagSet("zap", flag.ContinueOnError)
	o.zap.BindFlags(zapFlags)
	flags.AddGoFlagSet(zapFlags)
}

func (o *serveOptions) run(ctx context.Context, streams Streams) error {
	minTLS, ok := tlsVersions[o.tlsMinVersion]
	if !ok {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--tls-min-version %q is not supported; use 1.2 or 1.3", o.tlsMinVersion)}
	}
	o.complete()
	if err := o.validate(); err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	o.zap.DestWriter = streams.ErrOut
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap)))
	log := ctrl.Log.WithName("setup")

	cfg, raw, err := swwebhook.LoadConfigFile(o.configPath)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	restCfg, err := server.RESTConfig(o.kubeconfig, "")
	if err != nil {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("no Kubernetes API configuration: %v", err)}
	}
	certStore := &certs.Store{}
	mgr, err := o.newManager(restCfg, minTLS, certStore)
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := swwebhook.Setup(ctx, mgr, cfg, raw, o.configPath, o.configInterval); err != nil {
		return err
	}
	if o.tls.mode == tlsModeSelfManaged {
		if err := o.tls.selfManaged.Setup(ctx, mgr, restCfg, certStore); err != nil {
			return err
		}
	}
	if err := setupChecks(ctx, mgr, o, certStore); err != nil {
		return err
	}
	log.Info("Starting setwarden webhook server", "port", o.port, "config", o.configPath, "tlsMode", o.tls.mode)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}

// newScheme returns the types setwarden decodes and caches.
func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	return scheme
}

// complete fills the values that depend on other flags: the default drain
// delay gives way to a short shutdown timeout chosen on purpose, leaving
// half of it to in-flight requests.
func (o *serveOptions) complete() {
	if o.drainDefaulted && o.gracefulShutdown >= 0 && o.shutdownDrain >= o.gracefulShutdown {
		o.shutdownDrain = o.gracefulShutdown / 2
	}
}

// validate checks the flags that depend on each other, after complete.
func (o *serveOptions) validate() error {
	switch {
	case o.maxRequestBytes <= 0:
		return fmt.Errorf("--max-request-bytes must be positive, got %d", o.maxRequestBytes)
	case o.gracefulShutdown < 0:
		return fmt.Errorf("--graceful-shutdown-timeout must not be negative, got %s", o.gracefulShutdown)
	case o.readHeaderTime <= 0:
		return fmt.Errorf("--read-header-timeout must be positive, got %s", o.readHeaderTime)
	case o.shutdownDrain < 0:
		return fmt.Errorf("--shutdown-drain-delay must not be negative, got %s", o.shutdownDrain)
	case !o.drainDefaulted && o.shutdownDrain >= o.gracefulShutdown:
		return fmt.Errorf("--shutdown-drain-delay (%s) must be shorter than --graceful-shutdown-timeout (%s), or in-flight requests get no time to finish", o.shutdownDrain, o.gracefulShutdown)
	}
	return o.tls.validate()
}

// newManager builds a manager that runs the webhook server and the caches
// of Services and Nodes (and, with self-managed TLS, of the one certificate
// Secret); admission itself needs no leader election.
func (o *serveOptions) newManager(restCfg *rest.Config, minTLS uint16, certStore *certs.Store) (manager.Manager, error) {
	tlsOpts := []func(*tls.Config){func(c *tls.Config) {
		c.MinVersion = minTLS
		if !o.enableHTTP2 {
			c.NextProtos = []string{"http/1.1"}
		}
	}}
	webhookTLSOpts := tlsOpts
	if o.tls.mode == tlsModeSelfManaged {
		webhookTLSOpts = append(webhookTLSOpts, func(c *tls.Config) { c.GetCertificate = certStore.GetCertificate })
	}
	byObject := map[client.Object]cache.ByObject{
		&corev1.Service{}: {Transform: swwebhook.StripForView},
		&corev1.Node{}:    {Transform: swwebhook.StripForView},
	}
	if o.tls.mode == tlsModeSelfManaged {
		byObject[&corev1.Secret{}] = o.tls.selfManaged.SecretCache()
	}
	return ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  newScheme(),
		Metrics:                 o.metrics.Options(tlsOpts),
		HealthProbeBindAddress:  o.probeAddr,
		PprofBindAddress:        o.pprofAddr,
		GracefulShutdownTimeout: &o.gracefulShutdown,
		WebhookServer: server.New(server.Options{
			Host: o.webhookHost, Port: o.port, CertDir: o.certDir, TLSOpts: webhookTLSOpts,
			MaxRequestBytes:   o.maxRequestBytes,
			ReadHeaderTimeout: o.readHeaderTime,
			// The API server gives up on a webhook after at most 30s.
			ReadTimeout:     30 * time.Second,
			DrainDelay:      o.shutdownDrain,
			ShutdownTimeout: max(o.gracefulShutdown-o.shutdownDrain, time.Second),
		}),
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject:         byObject,
		},
	})
}

// setupChecks makes readiness true only when the webhook server serves (with
// a certificate loaded) and the caches have synced, and false again as soon
// as shutdown begins (server.AddChecks).
func setupChecks(ctx context.Context, mgr manager.Manager, o *serveOptions, certStore *certs.Store) error {
	var checks []server.Check
	if o.tls.mode == tlsModeSelfManaged {
		checks = append(checks, server.Check{Name: "certificate", Checker: certStore.Checker})
	}
	checks = append(checks, server.Check{Name: "webhook", Checker: mgr.GetWebhookServer().StartedChecker()})
	return server.AddChecks(ctx, mgr, checks...)
}
