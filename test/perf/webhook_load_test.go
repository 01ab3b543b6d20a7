package perf

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/setwarden/setwarden/test/framework"
)

// TestWebhookLoad measures setwarden over TLS with keep-alive on loopback:
// throughput with a closed loop, and latency at a fixed 1,000 requests/s
// with an open loop, on issue 8's request mix. It prints figures and asserts
// no timings; it runs with SETWARDEN_PERF=1 (make bench).
func TestWebhookLoad(t *testing.T) {
	if os.Getenv("SETWARDEN_PERF") == "" {
		t.Skip("set SETWARDEN_PERF=1 (make bench) to run the load test")
	}
	env, err := framework.Start(framework.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	ctx := t.Context()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: MixNamespace}}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: MixService, Namespace: MixNamespace},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app.kubernetes.io/name": "db"},
			Ports: []corev1.ServicePort{{Port: 5432}}}}
	if err := env.Client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let the informer cache see the Service
	tlsCfg, err := env.WebhookTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	mix, err := StandardMix()
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + env.WebhookAddress()
	duration := 10 * time.Second
	if d, err := time.ParseDuration(os.Getenv("SETWARDEN_PERF_DURATION")); err == nil {
		duration = d
	}
	run := func(name string, cfg Config) *Result {
		cfg.BaseURL, cfg.TLS, cfg.Mix, cfg.Duration, cfg.Seed = base, tlsCfg, mix, duration, 1
		// Warm up connections and caches before measuring.
		warm := cfg
		warm.Duration = time.Second
		if _, err := Run(context.WithoutCancel(ctx), warm); err != nil {
			t.Fatal(err)
		}
		res, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("perf: webhook %-28s %s\n", name, res)
		if res.Failed > 0 {
			t.Errorf("%s: %d of %d requests failed", name, res.Failed, res.Sent)
		}
		return res
	}
	tp := run("throughput (closed loop, 32)", Config{Workers: 32})
	lat := run("latency (open loop, 1000/s)", Config{Rate: 1000})
	emit(t, Record{Target: 2, Figure: "throughput, closed loop, 32 workers", Value: tp.Throughput(), Unit: "reviews/s",
		Limit: 10000, AtLeast: true, Note: fmt.Sprintf("p99 %.2f ms, %s", ms(tp.Percentile(99)), duration)})
	emit(t, Record{Target: 2, Figure: "p99 at 1,000 reviews/s, open loop", Value: ms(lat.Percentile(99)), Unit: "ms", Limit: 2,
		Note: fmt.Sprintf("p50 %.3f p90 %.3f p99.9 %.3f max %.3f ms", ms(lat.Percentile(50)), ms(lat.Percentile(90)),
			ms(lat.Percentile(99.9)), ms(lat.Max()))})
}
