package tls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/internal/server/certs"
	"github.com/setwarden/setwarden/test/framework"
)

func (s *server) ready() bool { return framework.Ready(s.probePort) }

func (s *server) log(t *testing.T) string { return s.proc.ReadLog(t) }

// tlsConfig trusts the Secret's CA bundle and checks the Service's name, as
// the API server does.
func (s *server) tlsConfig(t *testing.T) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(secretData(t)[certs.KeyCABundle]) {
		t.Fatal("no CA bundle in the Secret")
	}
	return &tls.Config{RootCAs: pool, ServerName: serviceDNS, MinVersion: tls.VersionTLS12}
}

func (s *server) httpsClient(t *testing.T) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: s.tlsConfig(t)}}
}

func secretData(t *testing.T) map[string][]byte {
	t.Helper()
	secret := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: secretName}, secret); err != nil {
		t.Fatal(err)
	}
	return secret.Data
}

func secretState(t *testing.T) certs.State { return certs.StateFromSecret(secretData(t)) }

func caBundles(t *testing.T) [][]byte {
	t.Helper()
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, m); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, v); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, w := range m.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	for _, w := range v.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	return out
}

func setValidatingBundle(t *testing.T, bundle []byte) {
	t.Helper()
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, v); err != nil {
		t.Fatal(err)
	}
	for i := range v.Webhooks {
		v.Webhooks[i].ClientConfig.CABundle = bundle
	}
	if err := env.Client.Update(t.Context(), v); err != nil {
		t.Fatal(err)
	}
}

func leaseHolder(t *testing.T) string {
	t.Helper()
	lease := &coordinationv1.Lease{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: leaseName}, lease); err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// roundTrip sends a request with header to url through c, and returns the
// response's status and body.
func roundTrip(t *testing.T, c *http.Client, method, url string, body io.Reader, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// admissionReview is a valid AdmissionReview of the broken StatefulSet, as
// the API server would send it.
func admissionReview(t *testing.T) []byte {
	t.Helper()
	sts := framework.BrokenStatefulSet(testNamespace)
	sts.APIVersion, sts.Kind = "apps/v1", "StatefulSet"
	raw, _ := json.Marshal(sts)
	review := map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid":       "00000000-0000-0000-0000-000000000001",
			"kind":      map[string]string{"group": "apps", "version": "v1", "kind": "StatefulSet"},
			"resource":  map[string]string{"group": "apps", "version": "v1", "resource": "statefulsets"},
			"namespace": testNamespace, "name": "broken", "operation": "CREATE",
			"userInfo": map[string]any{"username": "e2e"}, "object": json.RawMessage(raw),
		},
	}
	b, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type loadResult struct {
	total  int
	failed atomic.Int64
	mu     sync.Mutex
	errs   []string
}

func (r *loadResult) fail(msg string) {
	r.failed.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 5 {
		r.errs = append(r.errs, time.Now().Format("15:04:05.000")+" "+msg)
	}
}

func (r *loadResult) first() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

// startPacedLoad sends dry-run creates through the API server at about
// rate per second until ctx ends, in the background; the result arrives on
// the returned channel then.
func startPacedLoad(ctx context.Context, rate, workers int) <-chan *loadResult {
	done := make(chan *loadResult, 1)
	go func() { done <- runAPILoad(ctx, workers, pace(ctx, rate)) }()
	return done
}

// runAPILoad alternates an admitted Deployment and a denied StatefulSet:
// any other outcome, a webhook call failure included, counts as failed.
// Each request waits for a token.
func runAPILoad(ctx context.Context, workers int, tokens <-chan struct{}) *loadResult {
	res := &loadResult{}
	var total atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				select {
				case <-tokens:
				case <-ctx.Done():
					return
				}
				if (i+w)%2 == 0 {
					if err := env.Client.Create(context.Background(), framework.WebDeployment(testNamespace), client.DryRunAll); err != nil {
						res.fail("Deployment: " + err.Error())
					}
				} else {
					err := env.Client.Create(context.Background(), framework.BrokenStatefulSet(testNamespace), client.DryRunAll)
					if err == nil || err.Error() != brokenDenial {
						res.fail(fmt.Sprintf("StatefulSet: %v", err))
					}
				}
				total.Add(1)
			}
		})
	}
	wg.Wait()
	res.total = int(total.Load())
	return res
}

// pace hands out rate tokens per second until ctx ends; a few can wait in
// the channel so that a slow moment is caught up, then ticks are dropped.
func pace(ctx context.Context, rate int) <-chan struct{} {
	tokens := make(chan struct{}, max(rate/20, 1))
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case tokens <- struct{}{}:
				default:
				}
			}
		}
	}()
	return tokens
}

type secretObserver struct {
	stopCh chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	cas     map[string]bool
	serving map[string]bool
}

// observeSecret records every signing CA and serving certificate the
// Secret holds while the observer runs.
func observeSecret() *secretObserver {
	o := &secretObserver{stopCh: make(chan struct{}), done: make(chan struct{}), cas: map[string]bool{}, serving: map[string]bool{}}
	go func() {
		defer close(o.done)
		for {
			secret := &corev1.Secret{}
			_ = env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: secretName}, secret)
			st := certs.StateFromSecret(secret.Data)
			o.mu.Lock()
			if st.CA != nil {
				o.cas[st.CA.Cert.Subject.CommonName] = true
			}
			if st.Serving != nil {
				o.serving[st.Serving.Cert.SerialNumber.String()] = true
			}
			o.mu.Unlock()
			select {
			case <-o.stopCh:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return o
}

// count returns how many CAs and serving certificates were seen so far.
func (o *secretObserver) count() (int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.cas), len(o.serving)
}

func (o *secretObserver) stop() (int, int) {
	close(o.stopCh)
	<-o.done
	return o.count()
}
