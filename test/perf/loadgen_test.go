package perf

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%10 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	tlsCfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	mix := []Weighted{{Percent: 60, Request: Request{Name: "a", Path: "/a"}}, {Percent: 40, Request: Request{Name: "b", Path: "/b"}}}
	t.Run("a closed loop keeps every worker busy and counts failures", func(t *testing.T) {
		hits.Store(0)
		res, err := Run(t.Context(), Config{BaseURL: srv.URL, TLS: tlsCfg, Mix: mix, Duration: 300 * time.Millisecond, Workers: 4})
		if err != nil {
			t.Fatal(err)
		}
		// Requests cut off by the end of the run reach the server but are not counted.
		if res.Sent == 0 || hits.Load() < res.Sent || hits.Load() > res.Sent+4 {
			t.Errorf("sent %d, server saw %d", res.Sent, hits.Load())
		}
		if want := res.Sent / 10; res.Failed < want-1 || res.Failed > want+1 {
			t.Errorf("failed %d of %d, want about one in ten", res.Failed, res.Sent)
		}
	})
	t.Run("an open loop sends at the fixed rate", func(t *testing.T) {
		hits.Store(0)
		res, err := Run(t.Context(), Config{BaseURL: srv.URL, TLS: tlsCfg, Mix: mix, Duration: time.Second, Rate: 200})
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent < 150 || res.Sent > 201 {
			t.Errorf("sent %d requests in 1s at 200/s", res.Sent)
		}
		if res.Percentile(50) > res.Percentile(99) || res.Percentile(99) > res.Max() {
			t.Errorf("percentiles out of order: %s", res)
		}
	})
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"a mix that does not add up to 100% is refused", Config{BaseURL: srv.URL, Mix: mix[:1], Duration: time.Second, Workers: 1}, "adds up to 60%"},
		{"a target off this machine is refused", Config{BaseURL: "https://10.0.0.1:9443", Mix: mix, Duration: time.Second, Workers: 1}, "not a loopback address"},
		{"a run without workers or rate is refused", Config{BaseURL: srv.URL, Mix: mix, Duration: time.Second}, "set Workers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(t.Context(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
