package framework

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
)

// WebhookAddress returns the host:port the setwarden webhook server listens
// on, for tests that talk to it directly rather than through the API server.
func (e *Env) WebhookAddress() string {
	wo := e.testEnv.WebhookInstallOptions
	return net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort))
}

// WebhookTLSConfig returns a client TLS configuration that trusts the
// webhook server's certificate exactly as the API server does: through the
// CA bundle of the webhook configurations, for the serving host name.
func (e *Env) WebhookTLSConfig() (*tls.Config, error) {
	wo := e.testEnv.WebhookInstallOptions
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(wo.LocalServingCAData) {
		return nil, errors.New("the webhook server has no CA: was the Env started with NoWebhooks?")
	}
	return &tls.Config{RootCAs: pool, ServerName: wo.LocalServingHost, MinVersion: tls.VersionTLS12}, nil
}

// WebhookServerExited reports whether `setwarden serve` has exited, and its
// exit code, without consuming it: Stop still sees it.
func (e *Env) WebhookServerExited() (code int, exited bool) {
	if e.done == nil {
		return 0, false
	}
	select {
	case code := <-e.done:
		e.done <- code
		return code, true
	default:
		return 0, false
	}
}
