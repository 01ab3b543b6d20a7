// Package safety proves, on a real kube-apiserver, that setwarden cannot
// lock a cluster up and that its HTTPS server survives hostile input:
// with the webhook down and failurePolicy Fail, the system namespaces and
// the cluster's plumbing (Nodes, Leases, Events, CSRs, tokens) keep
// working; malformed, crafted, oversized and slow requests are each
// answered clearly while the server goes on serving.
package safety

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/setwarden/setwarden/test/framework"
)

// envs are started on first use, so that `go test -run` starts only the
// API servers the selected tests need, and stopped once at the end.
var (
	envsMu sync.Mutex
	envs   = map[string]*framework.Env{}
	failed = map[string]error{}
)

// sharedEnv returns the Env called name, starting it with start on first use.
func sharedEnv(t *testing.T, name string, start func() (*framework.Env, error)) *framework.Env {
	t.Helper()
	envsMu.Lock()
	defer envsMu.Unlock()
	if err := failed[name]; err != nil {
		t.Fatalf("%s environment: %v", name, err)
	}
	if env := envs[name]; env != nil {
		return env
	}
	env, err := start()
	if err != nil {
		failed[name] = err
		t.Fatalf("%s environment: %v", name, err)
	}
	envs[name] = env
	return env
}

func TestMain(m *testing.M) {
	code := m.Run()
	for name, env := range envs {
		if code != 0 && env.ServerLog != "" {
			fmt.Fprintf(os.Stderr, "safety: %s: setwarden server log: %s (kept with SETWARDEN_E2E_KEEP=1)\n", name, env.ServerLog)
		}
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "safety: stopping %s: %v\n", name, err)
		}
	}
	os.Exit(code)
}
