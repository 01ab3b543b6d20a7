package app

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/setwarden/setwarden/internal/audit"
	"github.com/setwarden/setwarden/internal/server"
)

// watchGCPercent is the GOGC of watch mode, unless GOGC is set.
const watchGCPercent = 50

// watchOptions are the flags of `setwarden audit --watch`.
type watchOptions struct {
	enabled        bool
	events         bool
	workers        int
	leaderElect    bool
	leaderNS       string
	leaderID       string
	leaseDuration  time.Duration
	renewDeadline  time.Duration
	retryPeriod    time.Duration
	metrics        server.Metrics
	tlsMinVersion  string
	probeAddr      string
	pprofAddr      string
	qps            float32
	burst          int
	configInterval time.Duration
	nodesDebounce  time.Duration
	zap            zap.Options
}

func (w *watchOptions) bindFlags(cmd *cobra.Command) {
	flags := cmd.Flags()
	flags.BoolVar(&w.enabled, "watch", false, "audit continuously: keep a Report per workload with findings, raise Events, serve metrics")
	flags.BoolVar(&w.events, "events", true, "with --watch: raise a Warning Event on a workload when a finding appears")
	flags.IntVar(&w.workers, "workers", 4, "with --watch: objects judged at once (writes wait for the API server, so more than the cores)")
	flags.BoolVar(&w.leaderElect, "leader-elect", true, "with --watch: judge and write only while holding the Lease, so that replicas never both write")
	flags.StringVar(&w.leaderNS, "leader-election-namespace", "", "with --watch: namespace of the Lease (default: the pod's, else --setwarden-namespace)")
	flags.StringVar(&w.leaderID, "leader-election-id", "setwarden-audit", "with --watch: name of the Lease")
	flags.DurationVar(&w.leaseDuration, "leader-election-lease-duration", 15*time.Second, "with --watch: how long a Lease not renewed keeps other replicas waiting")
	flags.DurationVar(&w.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "with --watch: how long the leader tries to renew before it gives up")
	flags.DurationVar(&w.retryPeriod, "leader-election-retry-period", 2*time.Second, "with --watch: how often replicas try to take or renew the Lease")
	flags.StringVar(&w.metrics.Addr, "metrics-bind-address", ":8080", `with --watch: metrics address, "0" to disable`)
	flags.BoolVar(&w.metrics.Secure, "metrics-secure", false, "with --watch: serve metrics over HTTPS to callers the API server authenticates (TokenReview) and authorizes to get /metrics (SubjectAccessReview)")
	flags.StringVar(&w.metrics.CertDir, "metrics-cert-dir", "", "with --watch and --metrics-secure: directory holding tls.crt and tls.key for the metrics server (default: a self-signed certificate)")
	flags.StringVar(&w.tlsMinVersion, "tls-min-version", "1.3", "with --watch and --metrics-secure: minimum TLS version of the metrics server: 1.2 or 1.3")
	flags.StringVar(&w.probeAddr, "health-probe-bind-address", ":8081", `with --watch: health and readiness probe address, "0" to disable`)
	flags.StringVar(&w.pprofAddr, "pprof-bind-address", "", `with --watch: Go profiler (/debug/pprof/) address, for diagnosis: off when empty or "0"; it has no authentication, so bind it to 127.0.0.1`)
	flags.Float32Var(&w.qps, "kube-api-qps", 100, "with --watch: requests per second to the API server (Reports and Events); the first pass writes a Report per workload with findings")
	flags.IntVar(&w.burst, "kube-api-burst", 200, "with --watch: burst of requests to the API server")
	flags.DurationVar(&w.configInterval, "config-poll-interval", 2*time.Second, "with --watch and --config: how often the PolicyConfig file is checked for changes")
	flags.DurationVar(&w.nodesDebounce, "nodes-debounce", time.Second, "with --watch: how long a burst of Node changes is gathered before the workloads are judged again")
	zapFlags := flag.NewFlagSet("zap", flag.ContinueOnError)
	w.zap.BindFlags(zapFlags)
	flags.AddGoFlagSet(zapFlags)
}

// runWatch runs the continuous audit until SIGTERM: a manager whose
// leader judges every workload, then each change, into Reports and Events.
func (o *auditOptions) runWatch(ctx context.Context, streams Streams, namespaceSet bool) error {
	w := &o.watch
	switch {
	case len(o.outputs) > 0 || o.whatIf != "" || o.failOn != "deny":
		return &exitError{code: ExitUsage, msg: "--watch writes Reports, Events and metrics: -o, --what-if and --fail-on do not apply"}
	case namespaceSet && o.namespace == "":
		return &exitError{code: ExitUsage, msg: "-n needs a namespace; without -n, --watch audits every namespace"}
	case o.config.File != "" && o.config.FromCluster:
		return &exitError{code: ExitUsage, msg: "--config and --config-from-cluster both name the PolicyConfig: use one"}
	case w.workers < 1:
		return &exitError{code: ExitUsage, msg: "--workers must be at least 1"}
	case tlsVersions[w.tlsMinVersion] == 0:
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--tls-min-version %q is not supported; use 1.2 or 1.3", w.tlsMinVersion)}
	case w.qps <= 0 || w.burst < 1:
		return &exitError{code: ExitUsage, msg: "--kube-api-qps and --kube-api-burst must be positive"}
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// The caches are most of the live heap and change slowly; a lower
		// GOGC than the default 100 keeps the resident set near them.
		debug.SetGCPercent(watchGCPercent)
	}
	w.zap.DestWriter = streams.ErrOut
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&w.zap)))
	restCfg, err := server.RESTConfig(o.kubeconfig, o.context)
	if err != nil {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("no Kubernetes API configuration: %v", err)}
	}
	namespace := ""
	if namespaceSet {
		namespace = o.namespace
	}
	mgr, err := o.newWatchManager(restCfg, namespace)
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	watcher := &audit.Watcher{
		Metrics:            audit.NewWatchMetrics(metrics.Registry),
		Config:             o.config,
		ConfigPollInterval: w.configInterval,
		Workers:            w.workers,
		NodesDebounce:      w.nodesDebounce,
	}
	if w.events {
		// The core/v1 recorder, for one Event per finding (see audit.Watcher).
		watcher.Recorder = mgr.GetEventRecorderFor("setwarden-audit") //nolint:staticcheck
	}
	if err := audit.SetupWatcher(ctx, mgr, watcher); err != nil {
		return err
	}
	if err := setupWatchChecks(ctx, mgr); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting the continuous audit", "leaderElection", w.leaderElect)
	return mgr.Start(ctx)
}

// newWatchManager builds the manager: its caches (audit.CacheOptions), the
// Lease, metrics and probes. The leader releases the Lease when it stops,
// so that another replica takes over at once.
func (o *auditOptions) newWatchManager(restCfg *rest.Config, namespace string) (manager.Manager, error) {
	w := &o.watch
	restCfg.UserAgent = "setwarden-audit"
	restCfg.QPS, restCfg.Burst = w.qps, w.burst
	scheme := newScheme()
	if err := reportsv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	leaderNS := w.leaderNS
	if leaderNS == "" {
		if _, err := rest.InClusterConfig(); err != nil {
			leaderNS = o.config.Namespace // outside a pod, controller-runtime cannot guess it
		}
	}
	return ctrl.NewManager(restCfg, ctrl.Options{
		Scheme: scheme,
		Metrics: w.metrics.Options([]func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = tlsVersions[w.tlsMinVersion]
			c.NextProtos = []string{"http/1.1"} // no HTTP/2: CVE-2023-44487, as serve
		}}),
		HealthProbeBindAddress:        w.probeAddr,
		PprofBindAddress:              w.pprofAddr,
		LeaderElection:                w.leaderElect,
		LeaderElectionID:              w.leaderID,
		LeaderElectionNamespace:       leaderNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &w.leaseDuration,
		RenewDeadline:                 &w.renewDeadline,
		RetryPeriod:                   &w.retryPeriod,
		Cache:                         audit.CacheOptions(o.config, namespace),
	})
}

// setupWatchChecks adds every server's probes (server.AddChecks: ready
// once the caches have synced, not while shutting down) and returns the
// caches' initial lists to the operating system once synced.
func setupWatchChecks(ctx context.Context, mgr manager.Manager) error {
	if err := mgr.Add(&server.ReleaseAfterSync{Cache: mgr.GetCache()}); err != nil {
		return err
	}
	return server.AddChecks(ctx, mgr)
}
