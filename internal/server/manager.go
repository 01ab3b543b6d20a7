package server

import (
	"crypto/tls"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/setwarden/setwarden/internal/server/metricsauth"
)

// RESTConfig loads the API server configuration of kubeconfig and
// kubeContext with kubectl's loading rules, or, when neither is set, the
// usual places: $KUBECONFIG, the in-cluster config, ~/.kube/config.
func RESTConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	if kubeconfig == "" && kubeContext == "" {
		return ctrl.GetConfig()
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
}

// Metrics are the settings of a manager's metrics server: --metrics-bind-address,
// --metrics-secure and --metrics-cert-dir.
type Metrics struct {
	Addr    string
	Secure  bool
	CertDir string
}

// Options serves metrics over plain HTTP, or when Secure over HTTPS to
// callers allowed to get /metrics: the API server checks their token
// (TokenReview) and their RBAC (SubjectAccessReview), so scrapers need no
// shared secret. metricsauth does the checking rather than
// controller-runtime's filters package, which links k8s.io/apiserver.
func (m Metrics) Options(tlsOpts []func(*tls.Config)) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: m.Addr, TLSOpts: tlsOpts}
	if m.Secure {
		opts.SecureServing = true
		opts.FilterProvider = metricsauth.NewFilter
		opts.CertDir = m.CertDir
	}
	return opts
}
