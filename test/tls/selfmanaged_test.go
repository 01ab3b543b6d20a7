package tls

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/setwarden/setwarden/test/framework"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/internal/server/certs"
)

const (
	denied         = `admission webhook "validate.setwarden.dev" denied the request: `
	msgServiceName = `spec.serviceName: Required value: set it to a headless Service (clusterIP: None) that selects the pods, so each pod gets a stable DNS name (rule statefulset-service-name)`
	msgClaims      = `spec.volumeClaimTemplates: Required value: add a volumeClaimTemplate so each pod gets a PersistentVolumeClaim that outlives it (or use a Deployment for stateless pods) (rule statefulset-volume-claim-templates)`
	serviceDNS     = name + "." + ns + ".svc"
)

var brokenDenial = denied + `StatefulSet.apps "broken" is invalid: [` + msgServiceName + `, ` + msgClaims + `]`

func TestSelfManagedTLS(t *testing.T) {
	for _, s := range servers {
		framework.WaitFor(t, s.identity+" to be ready", 60*time.Second, func() bool { return s.ready() })
	}
	t.Run("the Secret holds a CA and a serving certificate for the Service's DNS names", func(t *testing.T) {
		st := secretState(t)
		if st.CA == nil || st.Serving == nil || len(st.Bundle) == 0 {
			t.Fatalf("incomplete state: CA %v, serving %v, bundle %d", st.CA != nil, st.Serving != nil, len(st.Bundle))
		}
		want := []string{serviceDNS, serviceDNS + ".cluster.local"}
		if got := st.Serving.Cert.DNSNames; !slices.Equal(got, want) {
			t.Errorf("DNS names %v, want %v", got, want)
		}
	})
	t.Run("every webhook of both configurations carries the Secret's CA bundle", func(t *testing.T) {
		// The leader writes the Secret first and the bundles right after.
		framework.WaitFor(t, "the bundles to match the Secret", 10*time.Second, func() bool {
			want := secretData(t)[certs.KeyCABundle]
			for _, got := range caBundles(t) {
				if !bytes.Equal(got, want) {
					return false
				}
			}
			return true
		})
	})
	t.Run("admission decisions go through the API server, which verifies TLS against the injected CA", func(t *testing.T) {
		if err := env.Client.Create(t.Context(), framework.BrokenStatefulSet(testNamespace), client.DryRunAll); err == nil || err.Error() != brokenDenial {
			t.Errorf("got %v\nwant %s", err, brokenDenial)
		}
		if err := env.Client.Create(t.Context(), framework.WebDeployment(testNamespace), client.DryRunAll); err != nil {
			t.Errorf("a valid Deployment was refused: %v", err)
		}
		ds := framework.AgentDaemonSet(testNamespace)
		if err := env.Client.Create(t.Context(), ds, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		if n := len(ds.Spec.Template.Spec.Tolerations); n != 2 {
			t.Errorf("the agent DaemonSet got %d tolerations from the mutating webhook, want 2", n)
		}
	})
	t.Run("a CA bundle that does not match is refused by the API server, and the leader puts the right one back", func(t *testing.T) {
		stranger, err := certs.NewCA("stranger", time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		setValidatingBundle(t, certs.EncodeCerts(stranger.Cert))
		var refused string
		framework.WaitFor(t, "the API server to refuse the webhook's certificate", 10*time.Second, func() bool {
			err := env.Client.Create(t.Context(), framework.BrokenStatefulSet(testNamespace), client.DryRunAll)
			if err != nil && strings.Contains(err.Error(), "failed calling webhook") {
				refused = err.Error()
				return true
			}
			return false
		})
		if !strings.Contains(refused, "x509: certificate signed by unknown authority") {
			t.Errorf("the refusal does not come from TLS verification: %s", refused)
		}
		framework.WaitFor(t, "the leader to restore the bundle", 15*time.Second, func() bool {
			err := env.Client.Create(t.Context(), framework.BrokenStatefulSet(testNamespace), client.DryRunAll)
			return err != nil && err.Error() == brokenDenial
		})
	})
	t.Run("requests keep succeeding across CA and serving certificate rotations", func(t *testing.T) {
		testRequestsAcrossRotations(t)
	})
	t.Run("only the Lease holder writes the Secret and the bundles, and both replicas serve", func(t *testing.T) {
		holder := leaseHolder(t)
		for _, s := range servers {
			log := s.log(t)
			wrote := strings.Count(log, `"Wrote certificate Secret"`)
			injected := strings.Count(log, `"Injected CA bundle"`)
			t.Logf("%s: %d Secret writes, %d bundle injections", s.identity, wrote, injected)
			if s.identity == holder && wrote == 0 {
				t.Errorf("the Lease holder %s never wrote", s.identity)
			}
			if s.identity != holder && wrote+injected > 0 {
				t.Errorf("%s wrote without holding the Lease (holder %s)", s.identity, holder)
			}
		}
		if proxy.Conns[0].Load() == 0 || proxy.Conns[1].Load() == 0 {
			t.Errorf("connections per replica: %d, %d; want both to serve", proxy.Conns[0].Load(), proxy.Conns[1].Load())
		}
	})
	t.Run("the servers make no call outside the granted RBAC", func(t *testing.T) {
		for _, s := range servers {
			if lines := framework.Grep(s.log(t), "forbidden"); lines != "" {
				t.Errorf("%s was refused a call:\n%s", s.identity, lines)
			}
		}
	})
}

func TestHostileRequests(t *testing.T) {
	s := servers[1]
	framework.WaitFor(t, s.identity+" to be ready", 60*time.Second, func() bool { return s.ready() })
	c := s.httpsClient(t)
	url := "https://127.0.0.1:" + strconv.Itoa(s.port) + "/validate"
	review := admissionReview(t)
	oversized := append([]byte(`{"padding":"`), bytes.Repeat([]byte("x"), maxRequestBytes)...)
	oversized = append(oversized, `"}`...)
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
		wantBody   string
	}{
		{
			name: "a body over the limit with its length announced is answered 413", body: bytes.NewReader(oversized),
			wantStatus: http.StatusRequestEntityTooLarge,
			wantBody:   fmt.Sprintf(`"message":"Request entity too large: the admission request body is %d bytes, over the %d-byte limit (--max-request-bytes)"`, len(oversized), maxRequestBytes),
		},
		{
			name: "a chunked body over the limit is answered 413", body: io.MultiReader(bytes.NewReader(oversized)),
			wantStatus: http.StatusRequestEntityTooLarge,
			wantBody:   fmt.Sprintf(`"message":"Request entity too large: the admission request body is over the %d-byte limit (--max-request-bytes)"`, maxRequestBytes),
		},
		{
			name: "the next request is served", body: bytes.NewReader(review),
			wantStatus: http.StatusOK, wantBody: `"allowed":false`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := roundTrip(t, c, http.MethodPost, url, tt.body, http.Header{"Content-Type": {"application/json"}})
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %s\nwant %d with %s", status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	t.Run("a client that sends its headers too slowly is disconnected after the read-header timeout", func(t *testing.T) {
		conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port), s.tlsConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		if _, err := conn.Write([]byte("POST /validate HTTP/1.1\r\nHost: " + serviceDNS + "\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(conn)
		elapsed := time.Since(start)
		if err != nil || elapsed < readHeaderTimeout-500*time.Millisecond || elapsed > readHeaderTimeout+3*time.Second {
			t.Errorf("connection ended after %s with %v; want a close after the %s read-header timeout", elapsed, err, readHeaderTimeout)
		}
	})
}
