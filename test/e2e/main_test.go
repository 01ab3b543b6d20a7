// Package e2e proves setwarden's admission behaviour through a real
// kube-apiserver that calls the setwarden webhook server over TLS.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/setwarden/setwarden/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	var err error
	env, err = framework.Start(framework.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: setwarden server log: %s (kept with SETWARDEN_E2E_KEEP=1)\n", env.ServerLog)
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping: %v\n", err)
	}
	os.Exit(code)
}
