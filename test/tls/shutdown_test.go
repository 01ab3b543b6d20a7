package tls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/setwarden/setwarden/test/framework"
)

// TestRollingRestartUnderLoad restarts both replicas one after the other,
// the Lease holder first, as a rollout does, while dry-run creates go
// through the API server at about 200 per second. Each stopping replica
// turns unready at once, answers requests with Connection: close during its
// drain delay, then refuses connections; the other replica takes the Lease
// and carries on rotating. Not one admission may fail.
func TestRollingRestartUnderLoad(t *testing.T) {
	const rate = 200
	for _, s := range servers {
		framework.WaitFor(t, s.identity+" to be ready", 60*time.Second, func() bool { return s.ready() })
	}
	first, second := servers[0], servers[1]
	if leaseHolder(t) == second.identity {
		first, second = second, first
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	trust := newBundleTrust(t, ctx)
	start := time.Now()
	loadDone := startPacedLoad(ctx, rate, 16)
	time.Sleep(3 * time.Second)

	var figures []string
	for _, step := range []struct{ s, other *server }{{first, second}, {second, first}} {
		f := restart(t, step.s, step.other, trust)
		figures = append(figures, f.String())
	}
	newHolder := serverNamed(t, leaseHolder(t))
	framework.WaitFor(t, newHolder.identity+" to rotate after the restarts", 30*time.Second, func() bool {
		return strings.Contains(newHolder.log(t), `"Wrote certificate Secret"`)
	})
	time.Sleep(3 * time.Second)
	cancel()
	res := <-loadDone
	elapsed := time.Since(start)
	for _, f := range figures {
		t.Log(f)
	}
	t.Logf("load through the API server during both restarts: %d dry-run creates in %s (%.0f/s), %d failed",
		res.total, elapsed.Round(time.Second), float64(res.total)/elapsed.Seconds(), res.failed.Load())
	if res.failed.Load() > 0 {
		t.Errorf("%d of %d admissions failed; first: %s", res.failed.Load(), res.total, res.first())
	}
}

// restartFigures are the timings of one replica's restart, from SIGTERM.
type restartFigures struct {
	identity                        string
	unready, exited, leaseTo, ready time.Duration
	probe                           *shutdownProbe
	newHolder                       string
}

func (f restartFigures) String() string {
	lease := "the Lease stayed with " + f.newHolder
	if f.leaseTo > 0 {
		lease = fmt.Sprintf("%s took the Lease after %s", f.newHolder, f.leaseTo.Round(time.Millisecond))
	}
	return fmt.Sprintf("restart of %s: unready after %s, exited after %s, %s, ready again after %s; requests sent to it after SIGTERM: %s",
		f.identity, f.unready.Round(time.Millisecond), f.exited.Round(time.Millisecond), lease, f.ready.Round(time.Millisecond), f.probe)
}

// restart stops s with SIGTERM and starts it again, checking the shutdown
// on the way: readiness, clean answers to requests sent after SIGTERM, a
// graceful exit, and the Lease passing to other when s held it.
func restart(t *testing.T, s, other *server, trust *bundleTrust) restartFigures {
	t.Helper()
	// The test's serving certificates live 12s and are renewed 4.8s before
	// they expire, and a restart leaves the Lease without a holder for about
	// the election's retry period (2s) while the stopping replica keeps the
	// certificate it has (its Secret informer stops before its webhook
	// server). Started right before a renewal, a restart could outlive that
	// certificate; with real lifetimes the margin is weeks. So each restart
	// begins just after a renewal.
	framework.WaitFor(t, "a freshly renewed serving certificate", 15*time.Second, func() bool {
		st := secretState(t)
		return st.Serving != nil && time.Until(st.Serving.Cert.NotAfter) > 9*time.Second
	})
	f := restartFigures{identity: s.identity}
	wasHolder := leaseHolder(t) == s.identity
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: trust.config()}}
	defer c.CloseIdleConnections()
	probe := &shutdownProbe{url: "https://127.0.0.1:" + strconv.Itoa(s.port) + "/validate", client: c, body: admissionReview(t)}
	// A keep-alive connection opened before SIGTERM, as the API server has.
	if outcome := probe.send(); outcome != "served" {
		t.Fatalf("%s before SIGTERM: %s", s.identity, outcome)
	}
	if err := s.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	stopProbe := make(chan struct{})
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		probe.run(stopProbe)
	}()
	framework.WaitFor(t, s.identity+" to turn unready", time.Second, func() bool { return !s.ready() })
	f.unready = time.Since(signalled)
	select {
	case <-s.proc.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not exit within 15s of SIGTERM", s.identity)
	}
	f.exited = time.Since(signalled)
	close(stopProbe)
	<-probed
	f.probe = probe
	if !strings.Contains(s.log(t), `"Webhook server stopped"`) {
		t.Errorf("%s did not shut its webhook server down gracefully", s.identity)
	}
	if wasHolder {
		framework.WaitFor(t, other.identity+" to take the Lease", 20*time.Second, func() bool { return leaseHolder(t) == other.identity })
		f.leaseTo = time.Since(signalled)
	}
	f.newHolder = leaseHolder(t)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, s.identity+" to be ready again", 60*time.Second, func() bool { return s.ready() })
	f.ready = time.Since(signalled)
	if n := len(probe.failures); n > 0 {
		t.Errorf("%s: %d requests sent after SIGTERM got no clean answer:\n%s", s.identity, n, strings.Join(probe.failures, "\n"))
	}
	if probe.servedClose == 0 {
		t.Errorf("%s served no request with Connection: close during its drain delay", s.identity)
	}
	return f
}

// shutdownProbe sends admission requests straight to one stopping server,
// every 20ms, and sorts the answers. Clean answers are a response with
// Connection: close (during the drain delay) and a refused connection
// (once the listener closed); anything else, such as a connection reset
// after the request was written, is a failure, since the API server does
// not retry admission calls.
type shutdownProbe struct {
	url    string
	client *http.Client
	body   []byte

	servedClose, servedKeepAlive, refused int
	failures                              []string
}

func (p *shutdownProbe) String() string {
	return fmt.Sprintf("%d served with Connection: close, %d served keeping the connection, %d refused at connect, %d failed",
		p.servedClose, p.servedKeepAlive, p.refused, len(p.failures))
}

func (p *shutdownProbe) run(stop <-chan struct{}) {
	for {
		switch outcome := p.send(); outcome {
		case "served, closing":
			p.servedClose++
		case "served":
			p.servedKeepAlive++
		case "refused":
			p.refused++
		default:
			p.failures = append(p.failures, time.Now().Format("15:04:05.000")+" "+outcome)
		}
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// send makes one request and says how it ended.
func (p *shutdownProbe) send() string {
	var wrote bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote = true },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case err != nil && wrote:
		return "error after the request was written: " + err.Error()
	case err != nil:
		return "error before the request was written: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return "error reading the response: " + err.Error()
	case resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"allowed":false`):
		return fmt.Sprintf("unexpected answer %d: %s", resp.StatusCode, body)
	case resp.Close:
		return "served, closing"
	}
	return "served"
}

func serverNamed(t *testing.T, identity string) *server {
	t.Helper()
	for _, s := range servers {
		if s.identity == identity {
			return s
		}
	}
	t.Fatalf("no server %q holds the Lease", identity)
	return nil
}
