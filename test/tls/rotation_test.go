package tls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/perf"
)

// bundleTrust verifies the webhook servers' certificates the way the API
// server does: against the CA bundles the webhook configurations carry at
// the time of each handshake, as an informer shows them (the API server
// watches the configurations and builds a new client for a new bundle).
// Every webhook's bundle must trust the certificate, since the API server
// may call either path, and what the handshakes met is recorded.
type bundleTrust struct {
	configs    client.Reader
	handshakes atomic.Int64

	mu       sync.Mutex
	serving  map[string]bool
	issuers  map[string]bool
	failures []string
}

// newBundleTrust watches the webhook configurations until ctx ends.
func newBundleTrust(t *testing.T, ctx context.Context) *bundleTrust {
	t.Helper()
	c, err := cache.New(env.Config, cache.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{&admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the webhook configurations did not sync")
	}
	return &bundleTrust{configs: c, serving: map[string]bool{}, issuers: map[string]bool{}}
}

// config returns a client TLS configuration that checks the Service's name
// and the current bundles in VerifyConnection.
func (b *bundleTrust) config() *tls.Config {
	return &tls.Config{
		// VerifyConnection does the verification, with roots read at each
		// handshake rather than fixed here.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		VerifyConnection:   b.verify,
		ServerName:         serviceDNS,
		MinVersion:         tls.VersionTLS12,
	}
}

func (b *bundleTrust) verify(cs tls.ConnectionState) error {
	b.handshakes.Add(1)
	err := b.verifyChain(cs)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		if len(b.failures) < 5 {
			b.failures = append(b.failures, time.Now().Format("15:04:05.000")+" "+err.Error())
		}
		return err
	}
	leaf := cs.PeerCertificates[0]
	b.serving[leaf.SerialNumber.String()] = true
	b.issuers[leaf.Issuer.CommonName] = true
	return nil
}

func (b *bundleTrust) verifyChain(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server sent no certificate")
	}
	bundles, err := currentBundles(context.Background(), b.configs)
	if err != nil {
		return fmt.Errorf("reading the webhook configurations: %w", err)
	}
	intermediates := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	for webhook, bundle := range bundles {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(bundle) {
			return fmt.Errorf("webhook %s has no usable CA bundle", webhook)
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: intermediates, DNSName: cs.ServerName}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("webhook %s's bundle does not trust serving certificate %s: %w",
				webhook, cs.PeerCertificates[0].SerialNumber, err)
		}
	}
	return nil
}

// seen returns how many serving certificates and signing CAs the
// handshakes met.
func (b *bundleTrust) seen() (serving, issuers int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.serving), len(b.issuers)
}

func (b *bundleTrust) firstFailures() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.failures, "\n")
}

// currentBundles returns the CA bundle of every webhook of both
// configurations, by webhook name.
func currentBundles(ctx context.Context, configs client.Reader) (map[string][]byte, error) {
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := configs.Get(ctx, client.ObjectKey{Name: name}, m); err != nil {
		return nil, err
	}
	if err := configs.Get(ctx, client.ObjectKey{Name: name}, v); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, w := range m.Webhooks {
		out[w.Name] = w.ClientConfig.CABundle
	}
	for _, w := range v.Webhooks {
		out[w.Name] = w.ClientConfig.CABundle
	}
	return out, nil
}

// directLoad is the sum of the load generator's runs.
type directLoad struct {
	sent, failed int64
	runs         int
	elapsed      time.Duration
	worstP99     time.Duration
	max          time.Duration
}

func (d *directLoad) String() string {
	return fmt.Sprintf("%d requests in %d runs, %d failed, %.0f req/s; worst run p99 %s, max %s",
		d.sent, d.runs, d.failed, float64(d.sent)/d.elapsed.Seconds(), d.worstP99.Round(time.Microsecond), d.max.Round(time.Microsecond))
}

// runDirectLoad sends the performance tests' request mix (perf.StandardMix)
// straight to the webhook servers through the proxy that stands for their
// Service, at rate requests per second in an open loop, until ctx ends. It runs
// the load generator for a segment at a time: each run has its own connections,
// so the servers' certificates are verified again every segment rather than
// once per keep-alive connection for the whole test.
func runDirectLoad(ctx context.Context, trust *bundleTrust, rate int, segment time.Duration) (*directLoad, error) {
	mix, err := perf.StandardMix()
	if err != nil {
		return nil, err
	}
	out := &directLoad{}
	for seed := uint64(1); ctx.Err() == nil; seed++ {
		res, err := perf.Run(ctx, perf.Config{
			BaseURL: "https://" + proxy.Addr, TLS: trust.config(), Mix: mix,
			Duration: segment, Rate: rate, Seed: seed,
		})
		if err != nil {
			return nil, err
		}
		out.runs++
		out.sent += res.Sent
		out.failed += res.Failed
		out.elapsed += res.Elapsed
		out.worstP99 = max(out.worstP99, res.Percentile(99))
		out.max = max(out.max, res.Max())
	}
	return out, nil
}

// testRequestsAcrossRotations runs two loads at once until the Secret has
// gone through 10 serving certificate rotations and 2 CA rotations:
// dry-run creates through the API server (100/s), which verifies TLS
// against the bundle it was given, and the load generator at 500 requests/s
// straight to the servers, verifying against the bundle of the moment at
// each handshake. Not one request may fail.
func testRequestsAcrossRotations(t *testing.T) {
	// The API server path is paced rather than run flat out, so that the
	// two loads together leave the two shared cores some headroom.
	const wantServing, wantCA, directRate, apiRate = 10, 2, 500, 100
	obs := observeSecret()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	trust := newBundleTrust(t, ctx)
	start := time.Now()
	apiDone := startPacedLoad(ctx, apiRate, 8)
	type directOutcome struct {
		load *directLoad
		err  error
	}
	directDone := make(chan directOutcome, 1)
	go func() {
		load, err := runDirectLoad(ctx, trust, directRate, 2*time.Second)
		directDone <- directOutcome{load, err}
	}()
	for ctx.Err() == nil {
		if cas, serving := obs.count(); serving-1 >= wantServing && cas-1 >= wantCA {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	cancel()
	api, direct := <-apiDone, <-directDone
	elapsed := time.Since(start)
	cas, serving := obs.stop()
	if direct.err != nil {
		t.Fatal(direct.err)
	}
	seenServing, seenCAs := trust.seen()
	t.Logf("rotations in %s: %d of the CA, %d of the serving certificate (Secret polled every 250ms)", elapsed.Round(time.Second), cas-1, serving-1)
	t.Logf("through the API server: %d dry-run creates, %d failed, %.0f/s", api.total, api.failed.Load(), float64(api.total)/elapsed.Seconds())
	t.Logf("direct at %d/s: %s; %d handshakes verified against the bundles of the moment met %d serving certificates from %d CAs",
		directRate, direct.load, trust.handshakes.Load(), seenServing, seenCAs)
	t.Logf("connections per replica via the proxy: %d, %d", proxy.Conns[0].Load(), proxy.Conns[1].Load())
	if api.failed.Load() > 0 {
		t.Errorf("%d of %d requests through the API server failed; first: %s", api.failed.Load(), api.total, api.first())
	}
	if direct.load.failed > 0 {
		t.Errorf("%d of %d direct requests failed; handshake failures: %s", direct.load.failed, direct.load.sent, trust.firstFailures())
	}
	if serving-1 < wantServing || cas-1 < wantCA {
		t.Errorf("only %d serving and %d CA rotations within %s, want %d and %d", serving-1, cas-1, elapsed.Round(time.Second), wantServing, wantCA)
	}
	if seenServing < wantServing {
		t.Errorf("the direct load's handshakes met only %d serving certificates, want at least %d", seenServing, wantServing)
	}
}
