// Package audit tests `setwarden audit` against a real kube-apiserver
// without setwarden's webhooks, so that objects that violate the policies
// can be created directly, as in a cluster where setwarden came later.
package audit

import (
	"fmt"
	"os"
	"testing"

	"github.com/setwarden/setwarden/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	var err error
	env, err = framework.Start(framework.Options{NoWebhooks: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "audit: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "audit: stopping: %v\n", err)
	}
	os.Exit(code)
}
