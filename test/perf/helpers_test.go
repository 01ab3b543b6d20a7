package perf

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

// loadClient is a clientset without client-side rate limiting that speaks
// protobuf, as controllers do, so the client costs little CPU.
func loadClient(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// createNamespaceWithService creates ns with the headless Service the
// valid StatefulSets name.
func createNamespaceWithService(ctx context.Context, c client.Client, ns string) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	return c.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: MixService, Namespace: ns},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app.kubernetes.io/name": "db"},
			Ports: []corev1.ServicePort{{Port: 5432}}}})
}

func requirePerf(t *testing.T) {
	t.Helper()
	if os.Getenv("SETWARDEN_PERF") == "" {
		t.Skip("set SETWARDEN_PERF=1 (make bench) to run the performance tests")
	}
}

// startPerfEnv skips the test unless SETWARDEN_PERF is set, then starts an
// API server without setwarden's webhooks (each measurement installs what it
// measures), stopped when the test ends.
func startPerfEnv(t *testing.T) *framework.Env {
	t.Helper()
	requirePerf(t)
	env, err := framework.Start(framework.Options{NoWebhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return env
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func emit(t *testing.T, r Record) {
	t.Helper()
	if err := Emit(r); err != nil {
		t.Errorf("recording %q: %v", r.Figure, err)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
