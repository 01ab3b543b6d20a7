package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/setwarden/setwarden/internal/server/certs"
)

func TestServerLimitBody(t *testing.T) {
	var got []byte
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		got, err = io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	tests := []struct {
		name string
		body io.Reader
		// review sends the request to a handler that reads the body as the
		// admission ReviewHandler does, answering a body that runs over the
		// limit while it reads with WriteTooLarge.
		review     bool
		length     int64
		wantStatus int
		wantBody   string
		wantSeen   string
	}{
		{name: "a body at the limit reaches the handler whole", body: strings.NewReader("0123456789"), length: 10, wantStatus: 200, wantSeen: "0123456789"},
		{
			name: "a body over the limit with its length announced is answered 413 without reaching the handler", body: strings.NewReader("0123456789a"), length: 11,
			wantStatus: 413,
			wantBody:   `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Request entity too large: the admission request body is 11 bytes, over the 10-byte limit (--max-request-bytes)","reason":"RequestEntityTooLarge","code":413}`,
		},
		{
			name: "a body of unknown length over the limit is answered 413 by the handler when it reads it", body: strings.NewReader("0123456789a"), length: -1,
			review: true, wantStatus: 413,
			wantBody: `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Request entity too large: the admission request body is over the 10-byte limit (--max-request-bytes)","reason":"RequestEntityTooLarge","code":413}`,
		},
		{name: "a body of unknown length within the limit reaches the handler whole", body: strings.NewReader("short"), length: -1, wantStatus: 200, wantSeen: "short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			var next http.Handler = echo
			if tt.review {
				next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					var tooLarge *http.MaxBytesError
					if _, err := io.ReadAll(r.Body); errors.As(err, &tooLarge) {
						WriteTooLarge(w, -1, tooLarge.Limit)
					}
				})
			}
			req := httptest.NewRequest(http.MethodPost, "/validate", tt.body)
			req.ContentLength = tt.length
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			LimitBody(next, 10).ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantBody != "" && strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("body:\n got %s\nwant %s", rec.Body.String(), tt.wantBody)
			}
			if string(got) != tt.wantSeen {
				t.Errorf("the handler saw %q, want %q", got, tt.wantSeen)
			}
		})
	}
}

// TestServerShutdown runs the real server with a certificate from memory and
// checks the shutdown sequence: unready at once, serving through the drain
// delay with connections closed after each response, then closed.
func TestServerShutdown(t *testing.T) {
	store := &certs.Store{}
	s := serverTestStart(t, store)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test's own server
	url := "https://" + s.addr() + "/ok"

	serverTestWait(t, func() bool { return s.started.Load() })
	t.Run("readiness stays false until a certificate is loaded", func(t *testing.T) {
		if err := s.StartedChecker()(nil); err == nil {
			t.Fatal("ready without a certificate")
		}
		serverTestLoad(t, store)
		if err := s.StartedChecker()(nil); err != nil {
			t.Fatalf("not ready with a certificate: %v", err)
		}
	})
	cancel()
	t.Run("once shutdown began, readiness is false and requests are still served, each on a closing connection", func(t *testing.T) {
		serverTestWait(t, s.Draining)
		if err := s.StartedChecker()(nil); err == nil || err.Error() != "the webhook server is shutting down" {
			t.Errorf("checker: %v", err)
		}
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !resp.Close {
			t.Errorf("status %d, close %v", resp.StatusCode, resp.Close)
		}
	})
	t.Run("after the drain delay the listener closes", func(t *testing.T) {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the server did not stop")
		}
		if _, err := client.Get(url); err == nil {
			t.Error("served after shutdown")
		}
	})
}

// TestServerShutdownAnswersLastConnections opens a connection while the
// server drains and sends its request only once the listener has closed:
// http.Server.Shutdown alone would drop that request unanswered, and a
// client that has written a request cannot tell whether it was handled.
func TestServerShutdownAnswersLastConnections(t *testing.T) {
	store := &certs.Store{}
	s := serverTestStart(t, store)
	s.Options.ReadHeaderTimeout = 5 * time.Second
	serverTestLoad(t, store)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	serverTestWait(t, func() bool { return s.StartedChecker()(nil) == nil })
	conn, err := tls.Dial("tcp", s.addr(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test's own server
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cancel()
	serverTestWait(t, func() bool {
		c, err := net.Dial("tcp", s.addr())
		if err == nil {
			c.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})
	if _, err := conn.Write([]byte("POST /ok HTTP/1.1\r\nHost: setwarden\r\nContent-Length: 0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request sent after the listener closed got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("status %d, close %v; want 200 on a closing connection", resp.StatusCode, resp.Close)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not stop")
	}
}

func serverTestStart(t *testing.T, store *certs.Store) *Server {
	t.Helper()
	l, err := serverTestFreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{
		Host: "127.0.0.1", Port: l,
		TLSOpts:         []func(*tls.Config){func(c *tls.Config) { c.GetCertificate = store.GetCertificate }},
		MaxRequestBytes: 1 << 20, ReadHeaderTimeout: time.Second, DrainDelay: 500 * time.Millisecond, ShutdownTimeout: time.Second,
	})
	s.Register("/ok", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	return s
}

func serverTestLoad(t *testing.T, store *certs.Store) {
	t.Helper()
	p := certs.Policy{DNSNames: []string{"setwarden.setwarden-system.svc"}, CAValidity: time.Hour, CertValidity: time.Hour, RotateBefore: certs.RotateBefore{Fraction: 0.3}}
	st, _, err := certs.Plan(p, certs.State{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := certs.SecretData(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(data); err != nil {
		t.Fatal(err)
	}
}

func serverTestWait(t *testing.T, cond func() bool) {
	t.Helper()
	for range 100 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("timed out")
}

// serverTestFreePort returns a free port on 127.0.0.1.
func serverTestFreePort() (int, error) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	return strconv.Atoi(port)
}
