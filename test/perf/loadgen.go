// Package perf measures setwarden: a load generator for the admission
// webhook over TLS (closed loop for throughput, open loop at a fixed rate
// for latency) and the benchmark suite that `make bench` runs.
package perf

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Request is one AdmissionReview to send to one webhook path.
type Request struct {
	Name string
	Path string
	Body []byte
}

// Weighted is a request with its share of the mix, in percent.
type Weighted struct {
	Percent int
	Request Request
}

// Config describes one load run.
type Config struct {
	// BaseURL is the webhook server, such as https://127.0.0.1:9443.
	BaseURL string
	// TLS is the client TLS configuration (the server's CA).
	TLS *tls.Config
	// Mix is the request mix; the percentages add up to 100.
	Mix []Weighted
	// Duration bounds the run.
	Duration time.Duration
	// Workers, for a closed loop: each sends its next request when the last is answered.
	Workers int
	// Rate, for an open loop: requests per second, sent on schedule whatever the answers.
	Rate int
	// Seed makes the request sequence repeatable.
	Seed uint64
}

// Result holds the figures of one run.
type Result struct {
	Sent, Failed int64
	Elapsed      time.Duration
	latencies    []time.Duration
}

// Throughput is answered requests per second.
func (r *Result) Throughput() float64 { return float64(r.Sent-r.Failed) / r.Elapsed.Seconds() }

// Percentile returns the latency at p (0-100).
func (r *Result) Percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.latencies)-1) * p / 100)
	return r.latencies[i]
}

// Max returns the largest latency.
func (r *Result) Max() time.Duration { return r.Percentile(100) }

// String renders the figures on one line.
func (r *Result) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("%d requests, %d failed, %.0f req/s; p50 %s p90 %s p99 %s p99.9 %s max %s",
		r.Sent, r.Failed, r.Throughput(), ms(r.Percentile(50)), ms(r.Percentile(90)), ms(r.Percentile(99)),
		ms(r.Percentile(99.9)), ms(r.Max()))
}

// Run sends load as cfg says and returns the figures. Requests go to
// loopback addresses only; the run stops by itself after cfg.Duration.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cfg.TLS, MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0, ForceAttemptHTTP2: false,
	}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	rec := &recorder{}
	pick := picker(cfg.Mix)
	start := time.Now()
	if cfg.Rate > 0 {
		openLoop(ctx, client, cfg, pick, rec)
	} else {
		closedLoop(ctx, client, cfg, pick, rec)
	}
	res := rec.result(time.Since(start))
	return res, nil
}

func validate(cfg Config) error {
	total := 0
	for _, w := range cfg.Mix {
		total += w.Percent
	}
	switch {
	case total != 100:
		return fmt.Errorf("the request mix adds up to %d%%, not 100%%", total)
	case cfg.Duration <= 0 || cfg.Duration > 10*time.Minute:
		return fmt.Errorf("duration %s is outside (0, 10m]", cfg.Duration)
	case cfg.Rate <= 0 && cfg.Workers <= 0:
		return fmt.Errorf("set Workers (closed loop) or Rate (open loop)")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return fmt.Errorf("base URL: %w", err)
	}
	// Load goes to this machine only.
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("base URL %s is not a loopback address", cfg.BaseURL)
	}
	return nil
}

// picker returns a function that draws requests in the mix's proportions.
func picker(mix []Weighted) func(r *rand.Rand) Request {
	var table []Request
	for _, w := range mix {
		for range w.Percent {
			table = append(table, w.Request)
		}
	}
	return func(r *rand.Rand) Request { return table[r.IntN(len(table))] }
}

func closedLoop(ctx context.Context, client *http.Client, cfg Config, pick func(*rand.Rand) Request, rec *recorder) {
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
			for ctx.Err() == nil {
				t0 := time.Now()
				err := send(ctx, client, cfg.BaseURL, pick(r))
				if ctx.Err() != nil && err != nil {
					return // cut off by the end of the run, not a failure
				}
				rec.add(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
}

// openLoop sends on a fixed schedule and measures each request from its
// scheduled time, so a slow answer cannot hide the latency of the requests
// queued behind it (no coordinated omission). The schedule is kept with
// nanosleep on a thread of its own: Go's timers wake an idle program
// through epoll, whose timeout is whole milliseconds, so a time.After of
// 0.3 ms fires up to a millisecond late, and that lateness counted in
// every latency (a TLS server answering a fixed review showed p50 1 ms).
func openLoop(ctx context.Context, client *http.Client, cfg Config, pick func(*rand.Rand) Request, rec *recorder) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	interval := time.Second / time.Duration(cfg.Rate)
	r := rand.New(rand.NewPCG(cfg.Seed, 0))
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if !sleepUntil(ctx, due) {
			return
		}
		req := pick(r)
		wg.Go(func() {
			err := send(context.WithoutCancel(ctx), client, cfg.BaseURL, req)
			rec.add(time.Since(due), err)
		})
	}
}

// sleepUntil sleeps until t, in steps of at most 10 ms so that the end of
// the run is noticed; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	for ctx.Err() == nil {
		d := time.Until(t)
		if d <= 0 {
			return true
		}
		d = min(d, 10*time.Millisecond)
		ts := syscall.NsecToTimespec(d.Nanoseconds())
		_ = syscall.Nanosleep(&ts, nil) // EINTR: the loop sleeps again
	}
	return false
}

func send(ctx context.Context, client *http.Client, base string, req Request) error {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, base+req.Path, bytes.NewReader(req.Body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", req.Name, resp.StatusCode)
	}
	return nil
}

type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	sent      atomic.Int64
	failed    atomic.Int64
}

func (r *recorder) add(d time.Duration, err error) {
	r.sent.Add(1)
	if err != nil {
		r.failed.Add(1)
	}
	r.mu.Lock()
	r.latencies = append(r.latencies, d)
	r.mu.Unlock()
}

func (r *recorder) result(elapsed time.Duration) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	return &Result{Sent: r.sent.Load(), Failed: r.failed.Load(), Elapsed: elapsed, latencies: lat}
}
