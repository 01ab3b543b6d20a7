package safety

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/setwarden/setwarden/test/framework"
)

const (
	// maxRequestBytes is `setwarden serve --max-request-bytes`'s default.
	maxRequestBytes = 3 << 20
	// readHeaderTimeout is `setwarden serve --read-header-timeout`'s default.
	readHeaderTimeout = 10 * time.Second
)

// serving returns the shared environment in which setwarden serves.
func serving(t *testing.T) *framework.Env {
	t.Helper()
	return sharedEnv(t, "serving", func() (*framework.Env, error) { return framework.Start(framework.Options{}) })
}

// webhookClient talks HTTPS to the webhook server as the API server does.
type webhookClient struct {
	env  *framework.Env
	http *http.Client
}

func newWebhookClient(t *testing.T, env *framework.Env) *webhookClient {
	t.Helper()
	cfg, err := env.WebhookTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return &webhookClient{env: env, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: false},
	}}
}

// answer is what the server said: the HTTP status and the body, decoded
// as an AdmissionReview when it is one.
type answer struct {
	status int
	body   string
	review *admissionv1.AdmissionReview
}

func (c *webhookClient) post(t *testing.T, path string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://"+c.env.WebhookAddress()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	a := answer{status: resp.StatusCode, body: string(raw)}
	review := &admissionv1.AdmissionReview{}
	if json.Unmarshal(raw, review) == nil && review.Response != nil {
		a.review = review
	}
	return a
}

// assertStillServing sends a valid review and expects setwarden's usual
// denial of a StatefulSet without serviceName or claim templates.
func (c *webhookClient) assertStillServing(t *testing.T) {
	t.Helper()
	if code, exited := c.env.WebhookServerExited(); exited {
		t.Fatalf("setwarden serve exited with code %d", code)
	}
	a := c.post(t, "/validate", validReview(t, "still-serving", statefulSetJSON(t, "db")))
	if a.status != http.StatusOK || a.review == nil || a.review.Response.Allowed ||
		a.review.Response.UID != "still-serving" || a.review.Response.Result.Code != http.StatusUnprocessableEntity {
		t.Fatalf("the server no longer serves valid reviews: HTTP %d %s", a.status, a.body)
	}
}

// validReview returns an AdmissionReview as the API server sends it, for
// a CREATE of an apps/v1 StatefulSet in namespace "data".
func validReview(t *testing.T, uid string, object []byte) []byte {
	t.Helper()
	return reviewJSON(t, map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid":       uid,
			"kind":      map[string]any{"group": "apps", "version": "v1", "kind": "StatefulSet"},
			"resource":  map[string]any{"group": "apps", "version": "v1", "resource": "statefulsets"},
			"namespace": "data", "name": "db", "operation": "CREATE",
			"userInfo": map[string]any{"username": "safety"},
			"object":   json.RawMessage(object),
		},
	})
}

func reviewJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func statefulSetJSON(t *testing.T, name string) []byte {
	t.Helper()
	sts := brokenStatefulSet("data", name)
	sts.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}
	return reviewJSON(t, sts)
}

func TestHostileRequestsAreAnsweredAndTheServerKeepsServing(t *testing.T) {
	env := serving(t)
	c := newWebhookClient(t, env)
	c.assertStillServing(t)

	valid := validReview(t, "uid-1", statefulSetJSON(t, "db"))
	configMap := reviewJSON(t, &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data"}, Data: map[string]string{"spec": "x"}})
	daemonSet := reviewJSON(t, &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data"}, Spec: appsv1.DaemonSetSpec{Template: brokenStatefulSet("data", "db").Spec.Template}})
	v1beta1 := bytes.Replace(valid, []byte(`"admission.k8s.io/v1"`), []byte(`"admission.k8s.io/v1beta1"`), 1)
	v2 := bytes.Replace(valid, []byte(`"admission.k8s.io/v1"`), []byte(`"admission.k8s.io/v2"`), 1)
	notAReview := bytes.Replace(valid, []byte(`"kind":"AdmissionReview"`), []byte(`"kind":"Status"`), 1)
	oversized := validReview(t, "uid-big", reviewJSON(t, &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		Data: map[string]string{"padding": strings.Repeat("x", maxRequestBytes)}}))

	tests := []struct {
		name string
		body []byte
		// wantStatus is the HTTP status; wantCode and wantMessage the
		// review's result when the answer is a review, wantBody a part
		// of the body otherwise.
		wantStatus  int
		wantAllowed bool
		wantCode    int32
		wantMessage string
		wantBody    string
		wantVersion string
	}{
		{
			name:        "truncated JSON is a bad request that says where decoding stopped",
			body:        valid[:len(valid)/2],
			wantStatus:  http.StatusOK,
			wantCode:    http.StatusBadRequest,
			wantMessage: "invalid JSON: unexpected EOF after byte",
		},
		{
			name:        "an AdmissionReview of the older admission.k8s.io/v1beta1 is judged and answered in v1beta1",
			body:        v1beta1,
			wantStatus:  http.StatusOK,
			wantCode:    http.StatusUnprocessableEntity,
			wantMessage: `StatefulSet.apps "db" is invalid`,
			wantVersion: "admission.k8s.io/v1beta1",
		},
		{
			name:        "an AdmissionReview of an unknown apiVersion is a bad request",
			body:        v2,
			wantStatus:  http.StatusOK,
			wantCode:    http.StatusBadRequest,
			wantMessage: `no kind "AdmissionReview" is registered for version "admission.k8s.io/v2"`,
		},
		{
			name:        "a body of another kind than AdmissionReview is a bad request",
			body:        notAReview,
			wantStatus:  http.StatusOK,
			wantCode:    http.StatusBadRequest,
			wantMessage: `no kind "Status" is registered for version "admission.k8s.io/v1"`,
		},
		{
			name:        "an AdmissionReview without a request is a bad request",
			body:        []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`),
			wantStatus:  http.StatusOK,
			wantCode:    http.StatusBadRequest,
			wantMessage: "the AdmissionReview has no request",
		},
		{
			name:        "a CREATE without an object is a bad request",
			body:        validReview(t, "uid-2", nil),
			wantStatus:  http.StatusOK,
			wantCode:    http.StatusBadRequest,
			wantMessage: "the admission request has no object",
		},
		{
			name:        "a request whose kind says StatefulSet but whose object is a ConfigMap is a bad request",
			body:        validReview(t, "uid-3", configMap),
			wantStatus:  http.StatusOK,
			wantCode:    http.StatusBadRequest,
			wantMessage: "v1/ConfigMap",
		},
		{
			name:        "a request whose kind says StatefulSet but whose object is a DaemonSet is a bad request",
			body:        validReview(t, "uid-4", daemonSet),
			wantStatus:  http.StatusOK,
			wantCode:    http.StatusBadRequest,
			wantMessage: "apps/v1/DaemonSet",
		},
		{
			name:       "a body over --max-request-bytes is answered 413 before it is decoded",
			body:       oversized,
			wantStatus: http.StatusRequestEntityTooLarge,
			wantBody:   `over the 3145728-byte limit (--max-request-bytes)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := c.post(t, "/validate", tt.body)
			if a.status != tt.wantStatus {
				t.Fatalf("HTTP status %d, want %d; body: %.400s", a.status, tt.wantStatus, a.body)
			}
			switch {
			case tt.wantBody != "":
				if !strings.Contains(a.body, tt.wantBody) {
					t.Errorf("body %.400q does not say %q", a.body, tt.wantBody)
				}
			case a.review == nil:
				t.Errorf("the answer is not an AdmissionReview: %.400s", a.body)
			default:
				resp := a.review.Response
				if resp.Allowed != tt.wantAllowed || resp.Result == nil || resp.Result.Code != tt.wantCode ||
					!strings.Contains(resp.Result.Message, tt.wantMessage) {
					t.Errorf("got allowed=%v code=%d message=%q (in a %s review), want allowed=%v, code %d and a message containing %q",
						resp.Allowed, resultCode(resp), resultMessage(resp), a.review.APIVersion, tt.wantAllowed, tt.wantCode, tt.wantMessage)
				}
				if tt.wantVersion != "" && a.review.APIVersion != tt.wantVersion {
					t.Errorf("answered in %q, want %q", a.review.APIVersion, tt.wantVersion)
				}
			}
			c.assertStillServing(t)
		})
	}
	assertNoPanicLogged(t, env)
}

func TestSlowClientIsDisconnectedAfterTheReadHeaderTimeout(t *testing.T) {
	env := serving(t)
	c := newWebhookClient(t, env)
	cfg, err := env.WebhookTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", env.WebhookAddress(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte("POST /validate HTTP/1.1\r\nHost: setwarden\r\nContent-Type: appli")); err != nil {
		t.Fatal(err)
	}
	// The client stalls. While it does, others are served.
	c.assertStillServing(t)
	limit := readHeaderTimeout + 5*time.Second
	_ = conn.SetReadDeadline(start.Add(limit))
	n, err := conn.Read(make([]byte, 1024))
	waited := time.Since(start)
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		t.Fatalf("the server still holds the half-sent request open after %s (--read-header-timeout is %s)", waited.Round(time.Second), readHeaderTimeout)
	case err == nil:
		t.Logf("the server answered %d bytes before closing", n)
	}
	if waited < readHeaderTimeout-time.Second {
		t.Errorf("the connection closed after %s, before the %s read-header timeout", waited.Round(time.Millisecond), readHeaderTimeout)
	}
	t.Logf("a client that stalled in its headers was disconnected after %s", waited.Round(time.Millisecond))
	c.assertStillServing(t)
}

func resultCode(resp *admissionv1.AdmissionResponse) int32 {
	if resp.Result == nil {
		return 0
	}
	return resp.Result.Code
}

func resultMessage(resp *admissionv1.AdmissionResponse) string {
	if resp.Result == nil {
		return ""
	}
	return resp.Result.Message
}

// assertNoPanicLogged fails when the server log mentions a panic: the
// handlers recover, so a 500 answer alone would hide one.
func assertNoPanicLogged(t *testing.T, env *framework.Env) {
	t.Helper()
	data, err := os.ReadFile(env.ServerLog)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(bytes.ToLower(data), []byte("panic")); i >= 0 {
		t.Errorf("the server log mentions a panic: %.300s", data[i:])
	}
}
