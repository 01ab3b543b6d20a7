package metricsauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
)

const (
	reader   = "system:serviceaccount:monitoring:prometheus"
	stranger = "system:serviceaccount:default:stranger"
	confused = "confused"
)

// users are the tokens the fake API server accepts, and their owners.
var users = map[string]authenticationv1.UserInfo{
	"reader-token": {
		Username: reader, UID: "uid-1",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:monitoring"},
		Extra:  map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"prometheus-0"}},
	},
	"stranger-token": {Username: stranger, Groups: []string{"system:serviceaccounts", "system:authenticated"}},
	"confused-token": {Username: confused},
}

// access is what the fake API server answers a SubjectAccessReview, by user.
var access = map[string]authorizationv1.SubjectAccessReviewStatus{
	reader:   {Allowed: true},
	stranger: {Reason: "no RBAC policy matched"},
	confused: {Allowed: true, Denied: true},
}

// fakeTokenReviews answers TokenReviews from users, or fails with err.
type fakeTokenReviews struct {
	err   error
	mu    sync.Mutex
	calls int
}

func (f *fakeTokenReviews) Create(_ context.Context, tr *authenticationv1.TokenReview, _ metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := tr.DeepCopy()
	if u, ok := users[tr.Spec.Token]; ok {
		out.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: u}
	} else {
		out.Status = authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
	}
	return out, nil
}

// fakeAccessReviews answers SubjectAccessReviews from access, or fails with
// err, and keeps the last review it was sent.
type fakeAccessReviews struct {
	err   error
	mu    sync.Mutex
	calls int
	last  *authorizationv1.SubjectAccessReview
}

func (f *fakeAccessReviews) Create(_ context.Context, sar *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.last = sar.DeepCopy()
	if f.err != nil {
		return nil, f.err
	}
	out := sar.DeepCopy()
	out.Status = access[sar.Spec.User]
	return out, nil
}

// fixture is a guard over fake reviews and a fake clock, with the handler
// it protects.
type fixture struct {
	t       *testing.T
	tokens  *fakeTokenReviews
	access  *fakeAccessReviews
	clock   *testingclock.FakeClock
	guard   *guard
	handler http.Handler
	// reached is the request as the protected handler saw it.
	reached *http.Request
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, tokens: &fakeTokenReviews{}, access: &fakeAccessReviews{}, clock: testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	f.guard = newGuard(f.tokens, f.access, f.clock)
	next := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		f.reached = req
		fmt.Fprintln(w, "metrics")
	})
	h, err := f.guard.filter(testr.New(t), next)
	if err != nil {
		t.Fatal(err)
	}
	f.handler = h
	return f
}

// get sends GET /metrics with the Authorization header auth (none if
// empty) and returns the answer.
func (f *fixture) get(auth string) (int, string) {
	f.t.Helper()
	f.reached = nil
	req := httptest.NewRequestWithContext(f.t.Context(), http.MethodGet, "/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestFilter(t *testing.T) {
	errAPI := errors.New("connection refused")
	tests := []struct {
		name              string
		auth              string
		tokenErr          error
		accessErr         error
		wantStatus        int
		wantBody          string
		wantTokenReviews  int
		wantAccessReviews int
	}{
		{
			name:       "a request without an Authorization header is unauthorized without asking the API server",
			wantStatus: http.StatusUnauthorized, wantBody: "Unauthorized\n",
		},
		{
			name: "a Basic Authorization header is unauthorized", auth: "Basic eDp5",
			wantStatus: http.StatusUnauthorized, wantBody: "Unauthorized\n",
		},
		{
			name: "a Bearer scheme without a token is unauthorized", auth: "Bearer ",
			wantStatus: http.StatusUnauthorized, wantBody: "Unauthorized\n",
		},
		{
			name: "a Bearer scheme with two spaces before the token is unauthorized, as in the API server", auth: "Bearer  reader-token",
			wantStatus: http.StatusUnauthorized, wantBody: "Unauthorized\n",
		},
		{
			name: "a token the API server does not accept is unauthorized", auth: "Bearer not-a-token",
			wantStatus: http.StatusUnauthorized, wantBody: "Unauthorized\n", wantTokenReviews: 1,
		},
		{
			name: "a user the API server does not allow to get /metrics is forbidden", auth: "Bearer stranger-token",
			wantStatus: http.StatusForbidden, wantBody: "Authorization denied for user " + stranger + "\n",
			wantTokenReviews: 1, wantAccessReviews: 1,
		},
		{
			name: "a user allowed to get /metrics reaches the metrics", auth: "Bearer reader-token",
			wantStatus: http.StatusOK, wantBody: "metrics\n", wantTokenReviews: 1, wantAccessReviews: 1,
		},
		{
			name: "the scheme is case-insensitive and the header is trimmed", auth: "  bearer reader-token \t",
			wantStatus: http.StatusOK, wantBody: "metrics\n", wantTokenReviews: 1, wantAccessReviews: 1,
		},
		{
			name: "a TokenReview that fails is an internal error", auth: "Bearer reader-token", tokenErr: errAPI,
			wantStatus: http.StatusInternalServerError, wantBody: "Authentication failed\n", wantTokenReviews: 1,
		},
		{
			name: "a SubjectAccessReview that fails is an internal error", auth: "Bearer reader-token", accessErr: errAPI,
			wantStatus: http.StatusInternalServerError, wantBody: "Authorization for user " + reader + " failed\n",
			wantTokenReviews: 1, wantAccessReviews: 1,
		},
		{
			name: "a SubjectAccessReview that both allows and denies is an internal error", auth: "Bearer confused-token",
			wantStatus: http.StatusInternalServerError, wantBody: "Authorization for user " + confused + " failed\n",
			wantTokenReviews: 1, wantAccessReviews: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.tokens.err, f.access.err = tt.tokenErr, tt.accessErr
			status, body := f.get(tt.auth)
			if status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", status, body, tt.wantStatus, tt.wantBody)
			}
			if (f.reached != nil) != (tt.wantStatus == http.StatusOK) {
				t.Errorf("handler reached: %t, want %t", f.reached != nil, tt.wantStatus == http.StatusOK)
			}
			if f.tokens.calls != tt.wantTokenReviews || f.access.calls != tt.wantAccessReviews {
				t.Errorf("got %d TokenReviews and %d SubjectAccessReviews, want %d and %d",
					f.tokens.calls, f.access.calls, tt.wantTokenReviews, tt.wantAccessReviews)
			}
		})
	}
}

func TestFilterAsksAboutTheUserAndTheRequest(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		method string
		path   string
		want   authorizationv1.SubjectAccessReviewSpec
	}{
		{
			name: "the user's name, UID, groups and extra are sent, with system:authenticated added", token: "reader-token",
			method: http.MethodGet, path: "/metrics",
			want: authorizationv1.SubjectAccessReviewSpec{
				User: reader, UID: "uid-1",
				Groups:                []string{"system:serviceaccounts", "system:serviceaccounts:monitoring", "system:authenticated"},
				Extra:                 map[string]authorizationv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"prometheus-0"}},
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
			},
		},
		{
			name:  "system:authenticated is not added twice, and the path and lower-cased method are those of the request",
			token: "stranger-token", method: http.MethodPost, path: "/metrics/extra",
			want: authorizationv1.SubjectAccessReviewSpec{
				User: stranger, Groups: []string{"system:serviceaccounts", "system:authenticated"},
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics/extra", Verb: "post"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			f.handler.ServeHTTP(httptest.NewRecorder(), req)
			if f.access.last == nil {
				t.Fatal("no SubjectAccessReview was sent")
			}
			if diff := cmp.Diff(tt.want, f.access.last.Spec); diff != "" {
				t.Errorf("SubjectAccessReview spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFilterRemovesTheTokenBeforeTheHandler(t *testing.T) {
	f := newFixture(t)
	if status, body := f.get("Bearer reader-token"); status != http.StatusOK {
		t.Fatalf("got %d %q, want 200", status, body)
	}
	if got := f.reached.Header.Get("Authorization"); got != "" {
		t.Errorf("the handler saw Authorization %q, want none", got)
	}
}

// step is one request of a caching scenario, made after advancing the
// clock, and the API calls made so far.
type step struct {
	after             time.Duration
	wantStatus        int
	wantTokenReviews  int
	wantAccessReviews int
}

// Entries expire once their lifetime has passed (apimachinery's
// LRUExpireCache keeps an entry at exactly its TTL), hence the millisecond.
func TestFilterCachesAnswers(t *testing.T) {
	errAPI := errors.New("connection refused")
	tests := []struct {
		name      string
		token     string
		tokenErr  error
		accessErr error
		steps     []step
	}{
		{
			name: "an accepted token is asked about again after a minute, an allowed user after five", token: "reader-token",
			steps: []step{
				{0, http.StatusOK, 1, 1},
				{59 * time.Second, http.StatusOK, 1, 1},
				{time.Second + time.Millisecond, http.StatusOK, 2, 1},
				{4 * time.Minute, http.StatusOK, 3, 2},
			},
		},
		{
			name: "a denied user is asked about again after 30 seconds", token: "stranger-token",
			steps: []step{
				{0, http.StatusForbidden, 1, 1},
				{29 * time.Second, http.StatusForbidden, 1, 1},
				{time.Second + time.Millisecond, http.StatusForbidden, 1, 2},
			},
		},
		{
			name: "a rejected token is asked about again after 10 seconds", token: "not-a-token",
			steps: []step{
				{0, http.StatusUnauthorized, 1, 0},
				{9 * time.Second, http.StatusUnauthorized, 1, 0},
				{time.Second + time.Millisecond, http.StatusUnauthorized, 2, 0},
			},
		},
		{
			name: "a TokenReview that failed is not remembered", token: "reader-token", tokenErr: errAPI,
			steps: []step{
				{0, http.StatusInternalServerError, 1, 0},
				{0, http.StatusInternalServerError, 2, 0},
			},
		},
		{
			name: "a SubjectAccessReview that failed is not remembered", token: "reader-token", accessErr: errAPI,
			steps: []step{
				{0, http.StatusInternalServerError, 1, 1},
				{0, http.StatusInternalServerError, 1, 2},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.tokens.err, f.access.err = tt.tokenErr, tt.accessErr
			for i, s := range tt.steps {
				f.clock.Step(s.after)
				status, body := f.get("Bearer " + tt.token)
				if status != s.wantStatus || f.tokens.calls != s.wantTokenReviews || f.access.calls != s.wantAccessReviews {
					t.Errorf("request %d: got %d %q after %d TokenReviews and %d SubjectAccessReviews, want %d after %d and %d",
						i, status, body, f.tokens.calls, f.access.calls, s.wantStatus, s.wantTokenReviews, s.wantAccessReviews)
				}
			}
		})
	}
}

// TestFilterCacheIsBounded sends more distinct tokens than the cache holds:
// it keeps the most recent ones and evicts the oldest, which then costs a
// TokenReview again rather than memory.
func TestFilterCacheIsBounded(t *testing.T) {
	f := newFixture(t)
	const tokens = 2*cacheLimit + 1
	for i := range tokens {
		if status, _ := f.get(fmt.Sprintf("Bearer token-%d", i)); status != http.StatusUnauthorized {
			t.Fatalf("token %d: got %d, want 401", i, status)
		}
		if n := len(f.guard.tokens.Keys()); n > cacheLimit {
			t.Fatalf("after %d distinct tokens the cache holds %d entries, more than %d", i+1, n, cacheLimit)
		}
	}
	if f.tokens.calls != tokens {
		t.Errorf("got %d TokenReviews, want %d", f.tokens.calls, tokens)
	}
	f.get(fmt.Sprintf("Bearer token-%d", tokens-1))
	if f.tokens.calls != tokens {
		t.Errorf("the newest token was asked about again: %d TokenReviews, want %d", f.tokens.calls, tokens)
	}
	f.get("Bearer token-0")
	if f.tokens.calls != tokens+1 {
		t.Errorf("the oldest token was not evicted: %d TokenReviews, want %d", f.tokens.calls, tokens+1)
	}
}

func TestFilterServesConcurrentRequests(t *testing.T) {
	f := newFixture(t)
	// A handler of its own: the fixture's records what reached it.
	h, err := f.guard.filter(testr.New(t), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "metrics")
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"Bearer reader-token": http.StatusOK, "Bearer stranger-token": http.StatusForbidden, "Bearer nope": http.StatusUnauthorized}
	var wg sync.WaitGroup
	for auth, status := range want {
		for range 4 {
			wg.Go(func() {
				for range 50 {
					req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
					req.Header.Set("Authorization", auth)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != status {
						t.Errorf("%s: got %d, want %d", auth, rec.Code, status)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}
