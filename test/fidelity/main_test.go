package fidelity

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

// full selects the full variant sets; `go test` alone runs a quick prefix
// of the same deterministic sequence.
var full = flag.Bool("fidelity.full", os.Getenv("FIDELITY_FULL") == "1",
	"run the full variant sets (also FIDELITY_FULL=1)")

// Sizes of the runs. The quick API server run takes every
// quickAPIStride-th variant of the full set (about 330), so it crosses the
// corner cases and the drawn variants alike.
const (
	fullAPIVariants        = 10000
	quickAPIStride         = 30
	quickSchedulerVariants = 500
	fullSchedulerVariants  = 20000
)

// apiVariants returns the variants of this run.
func apiVariants() []Variant {
	variants := Generate(fullAPIVariants)
	if *full {
		return variants
	}
	return Sample(variants, quickAPIStride)
}

// schedulerVariants returns the number of placement cases of this run.
func schedulerVariants() int {
	if *full {
		return fullSchedulerVariants
	}
	return quickSchedulerVariants
}

// The API server is started by the first test that needs it, so that the
// pure scheduler test can run alone without the binaries.
var (
	envOnce sync.Once
	env     *framework.Env
	envErr  error
	dryRun  client.Client
)

// apiServer starts kube-apiserver without setwarden's webhooks, creates
// the variants' namespace and returns a client for dry runs.
func apiServer(t *testing.T) client.Client {
	t.Helper()
	envOnce.Do(func() {
		if env, envErr = framework.Start(framework.Options{NoWebhooks: true}); envErr != nil {
			return
		}
		cfg := rest.CopyConfig(env.Config)
		// client-go's default 5 QPS would make the run last minutes.
		cfg.QPS, cfg.Burst = 1000, 2000
		// Admission warnings (deprecated node labels, ...) are not verdicts.
		cfg.WarningHandlerWithContext = rest.NoWarnings{}
		if dryRun, envErr = client.New(cfg, client.Options{}); envErr != nil {
			return
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
		envErr = dryRun.Create(context.Background(), ns)
	})
	if envErr != nil {
		t.Fatalf("starting the API server: %v", envErr)
	}
	return dryRun
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "fidelity: stopping the API server: %v\n", err)
		}
	}
	os.Exit(code)
}
