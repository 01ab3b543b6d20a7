package tls

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

const (
	// metricsReader may get /metrics; metricsStranger may not.
	metricsReader   = "metrics-reader"
	metricsStranger = "metrics-stranger"
)

// TestSecureMetrics runs a third replica with --metrics-secure: metrics are
// served over HTTPS only, to callers whose token the API server accepts
// (TokenReview) and who may get the non-resource URL /metrics
// (SubjectAccessReview). The replica runs with the chart's RBAC plus
// tokenreviews and subjectaccessreviews create.
func TestSecureMetrics(t *testing.T) {
	s, metricsURL := startMetricsReplica(t)
	tokens := metricsTokens(t)
	// One admission request, so the replica has a decision to count.
	resp, err := s.httpsClient(t).Post("https://127.0.0.1:"+strconv.Itoa(s.port)+"/validate", "application/json", bytes.NewReader(admissionReview(t)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// The metrics certificate is self-signed (no --metrics-cert-dir).
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // self-signed
	}}
	tests := []struct {
		name       string
		url        string
		token      string
		wantStatus int
		wantBody   string
	}{
		{
			name: "an anonymous request is refused as unauthenticated", url: metricsURL,
			wantStatus: http.StatusUnauthorized, wantBody: "Unauthorized\n",
		},
		{
			// 401, as for no token at all: the TokenReview worked and
			// rejected the token (500 is kept for a TokenReview that fails).
			name: "a token the API server does not accept is refused", url: metricsURL, token: "not-a-token",
			wantStatus: http.StatusUnauthorized, wantBody: "Unauthorized\n",
		},
		{
			name: "a ServiceAccount not allowed to get /metrics is forbidden", url: metricsURL, token: tokens[metricsStranger],
			wantStatus: http.StatusForbidden, wantBody: "Authorization denied for user system:serviceaccount:" + ns + ":" + metricsStranger + "\n",
		},
		{
			name: "a ServiceAccount allowed to get /metrics reads the metrics", url: metricsURL, token: tokens[metricsReader],
			wantStatus: http.StatusOK, wantBody: `setwarden_admission_decisions_total{`,
		},
		{
			name: "plain HTTP is not served", url: strings.Replace(metricsURL, "https://", "http://", 1), token: tokens[metricsReader],
			wantStatus: http.StatusBadRequest, wantBody: "Client sent an HTTP request to an HTTPS server.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.token != "" {
				header.Set("Authorization", "Bearer "+tt.token)
			}
			status, body := roundTrip(t, c, http.MethodGet, tt.url, nil, header)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %.300s\nwant %d with %q", status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	t.Run("the replica makes no call outside the granted RBAC", func(t *testing.T) {
		if lines := framework.Grep(s.log(t), "forbidden"); lines != "" {
			t.Errorf("%s was refused a call:\n%s", s.identity, lines)
		}
	})
}

// startMetricsReplica starts a replica with --metrics-secure, outside the
// proxy, and returns it with its metrics URL. A binary built without
// metrics authentication refuses the flag, and the test is skipped.
func startMetricsReplica(t *testing.T) (*server, string) {
	t.Helper()
	metricsPort, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{identity: "replica-metrics", kubeconfig: servers[0].kubeconfig}
	if s.port, err = framework.FreePort(); err != nil {
		t.Fatal(err)
	}
	if s.probePort, err = framework.FreePort(); err != nil {
		t.Fatal(err)
	}
	s.extraArgs = []string{"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(metricsPort), "--metrics-secure"}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.proc.Kill)
	deadline := time.Now().Add(60 * time.Second)
	for !s.ready() {
		select {
		case <-s.proc.Done():
			t.Fatalf("%s exited:\n%s", s.identity, s.log(t))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60s", s.identity)
		}
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(metricsPort)
	framework.WaitFor(t, "the metrics server to listen", 10*time.Second, func() bool {
		conn, err := net.Dial("tcp", metricsAddr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return s, "https://" + metricsAddr + "/metrics"
}

// metricsTokens creates two ServiceAccounts, lets one get /metrics, and
// returns a token of each.
func metricsTokens(t *testing.T) map[string]string {
	t.Helper()
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: metricsReader}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: metricsStranger}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: metricsReader}, Rules: []rbacv1.PolicyRule{
			{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
		}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: metricsReader},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: metricsReader, Namespace: ns}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReader}},
	}
	for _, obj := range objs {
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, sa := range []string{metricsReader, metricsStranger} {
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(t.Context(), sa,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tokens[sa] = tr.Status.Token
	}
	return tokens
}
