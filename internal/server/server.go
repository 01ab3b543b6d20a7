// Package server is setwarden's HTTPS serving, apart from admission: the
// webhook server with its body limit, read-header timeout and drain delay,
// the readiness of the caches, and (in subpackages) the serving
// certificates and their rotation, and the authentication of metrics
// scrapers.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// DefaultPort is the webhook server's port unless --port sets another,
// controller-runtime's default (webhook.DefaultPort).
const DefaultPort = 9443

// Options configure Server.
type Options struct {
	// Host and Port are the listen address.
	Host string
	Port int
	// CertDir holds tls.crt and tls.key, reloaded when they change; used
	// only when no TLSOpts sets GetCertificate.
	CertDir string
	// TLSOpts adjust the TLS configuration, GetCertificate included.
	TLSOpts []func(*tls.Config)
	// MaxRequestBytes is the largest request body served; larger ones are
	// answered 413 before anything decodes them.
	MaxRequestBytes int64
	// ReadHeaderTimeout bounds how long a client may take to send its
	// headers, so slow clients cannot hold connections open.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds how long reading a whole request may take.
	ReadTimeout time.Duration
	// DrainDelay is how long the server keeps accepting requests after
	// shutdown began, so Service endpoints drop this replica first.
	DrainDelay time.Duration
	// ShutdownTimeout bounds how long in-flight requests may take after the
	// listener closed.
	ShutdownTimeout time.Duration
}

// Server is a webhook.Server with what controller-runtime's DefaultServer
// does not let us set: a request body limit answered 413, a read-header
// timeout, and a drain delay before the listener closes. Handlers are still
// registered through a DefaultServer, so controller-runtime's webhook
// metrics keep instrumenting every path.
type Server struct {
	// Options are fixed once Start runs.
	Options Options

	registry *webhook.DefaultServer
	started  atomic.Bool
	draining atomic.Bool
}

var _ webhook.Server = &Server{}

// New returns a Server.
func New(o Options) *Server {
	return &Server{Options: o, registry: &webhook.DefaultServer{Options: webhook.Options{Port: o.Port}}}
}

// NeedLeaderElection implements webhook.Server: every replica serves.
func (*Server) NeedLeaderElection() bool { return false }

// Register implements webhook.Server.
func (s *Server) Register(path string, hook http.Handler) { s.registry.Register(path, hook) }

// WebhookMux implements webhook.Server.
func (s *Server) WebhookMux() *http.ServeMux { return s.registry.WebhookMux() }

// Draining reports whether shutdown began.
func (s *Server) Draining() bool { return s.draining.Load() }

// StartedChecker implements webhook.Server: healthy once the listener
// completes TLS handshakes (which needs a loaded certificate), and unhealthy
// again as soon as shutdown begins.
func (s *Server) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		switch {
		case s.draining.Load():
			return errors.New("the webhook server is shutting down")
		case !s.started.Load():
			return errors.New("the webhook server has not started yet")
		}
		d := &net.Dialer{Timeout: 5 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", s.addr(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a liveness probe of our own listener
		if err != nil {
			return fmt.Errorf("the webhook server does not complete TLS handshakes: %w", err)
		}
		return conn.Close()
	}
}

func (s *Server) addr() string {
	return net.JoinHostPort(s.Options.Host, strconv.Itoa(s.Options.Port))
}

// Start serves until ctx is done, then drains: readiness turns false at
// once, requests are still served for DrainDelay, then the listener closes
// and in-flight requests finish within ShutdownTimeout.
func (s *Server) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("webhook-server")
	cfg := &tls.Config{NextProtos: []string{"h2"}}
	for _, op := range s.Options.TLSOpts {
		op(cfg)
	}
	if cfg.GetCertificate == nil {
		w, err := certwatcher.New(filepath.Join(s.Options.CertDir, "tls.crt"), filepath.Join(s.Options.CertDir, "tls.key"))
		if err != nil {
			return err
		}
		cfg.GetCertificate = w.GetCertificate
		go func() {
			if err := w.Start(ctx); err != nil {
				log.Error(err, "Certificate watcher failed")
			}
		}()
	}
	ln, err := tls.Listen("tcp", s.addr(), cfg)
	if err != nil {
		return err
	}
	fresh := &freshConns{conns: map[net.Conn]struct{}{}}
	srv := &http.Server{
		Handler:   s.closeWhileDraining(LimitBody(s.registry.WebhookMux(), s.Options.MaxRequestBytes)),
		ConnState: fresh.track,
		// In-flight requests must not see shutdown as a cancellation.
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		MaxHeaderBytes:    1 << 20,
		ReadHeaderTimeout: s.Options.ReadHeaderTimeout,
		ReadTimeout:       s.Options.ReadTimeout,
		IdleTimeout:       90 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.started.Store(true)
	log.Info("Serving webhooks", "address", s.addr(), "maxRequestBytes", s.Options.MaxRequestBytes, "readHeaderTimeout", s.Options.ReadHeaderTimeout)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	log.Info("Shutting down: still serving during the drain delay", "drainDelay", s.Options.DrainDelay)
	time.Sleep(s.Options.DrainDelay)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.Options.ShutdownTimeout)
	defer cancel()
	// http.Server.Shutdown drops, unanswered, a request it reads after it
	// began, even on a connection accepted just before. So the listener
	// closes first, new connections are refused at connect, and the ones
	// accepted last get to send their request (within the read-header
	// timeout) and have it answered before Shutdown runs.
	_ = ln.Close()
	<-served
	fresh.wait(shutdownCtx, s.Options.ReadHeaderTimeout)
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down the webhook server: %w", err)
	}
	log.Info("Webhook server stopped")
	return nil
}

// freshConns tracks the connections that have not sent a request yet.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// track implements http.Server.ConnState.
func (f *freshConns) track(c net.Conn, state http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state == http.StateNew {
		f.conns[c] = struct{}{}
		return
	}
	delete(f.conns, c)
}

// wait returns once every connection has sent its first request, or after
// limit (the read-header timeout closes such a connection by then), or when
// ctx ends.
func (f *freshConns) wait(ctx context.Context, limit time.Duration) {
	if limit <= 0 {
		limit = 10 * time.Second
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		f.mu.Lock()
		n := len(f.conns)
		f.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closeWhileDraining asks clients to drop their connection after each
// response once shutdown began. Closing an idle keep-alive connection races
// with a client that is just sending a request on it, and the API server
// does not retry admission calls; a connection closed right after its
// response has no such race, so by the time the listener closes, the
// connections the API server keeps using are already gone.
func (s *Server) closeWhileDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// LimitBody answers 413 to a request whose declared body is over max
// bytes, before the admission handler reads it, and bounds what the handler
// can read: a body of unknown length (chunked) that runs over the limit
// fails the handler's read with an *http.MaxBytesError, which the
// ReviewHandler answers with the same 413.
func LimitBody(next http.Handler, max int64) http.Handler {
	if max <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			WriteTooLarge(w, r.ContentLength, max)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// WriteTooLarge answers with a Status the API server's client decodes, so
// the reason reaches whoever reads the API server's log.
func WriteTooLarge(w http.ResponseWriter, size, max int64) {
	msg := fmt.Sprintf("the admission request body is over the %d-byte limit (--max-request-bytes)", max)
	if size >= 0 {
		msg = fmt.Sprintf("the admission request body is %d bytes, over the %d-byte limit (--max-request-bytes)", size, max)
	}
	status := apierrors.NewRequestEntityTooLargeError(msg).ErrStatus
	status.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	_ = json.NewEncoder(w).Encode(status)
}
