// Package auditwatch tests `setwarden audit --watch` against a real
// kube-apiserver without setwarden's webhooks, so that objects that violate
// the policies can be created directly. The API server runs no controllers
// and no garbage collector: ownerReferences are checked as written. The
// watcher runs as its own process, impersonating the audit ServiceAccount
// with exactly the RBAC the chart grants.
package auditwatch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/test/framework"
)

const (
	// release is the Helm release the chart's audit RBAC is rendered for:
	// its names are setwarden-audit and setwarden-config.
	release = "setwarden"
	// auditSA is the audit ServiceAccount's user name.
	auditSA = "system:serviceaccount:" + framework.Namespace + ":setwarden-audit"
)

var (
	env *framework.Env
	// bin is the setwarden binary.
	bin string
	// saKubeconfig impersonates the audit ServiceAccount.
	saKubeconfig string
	// leader is the watcher the tests start with.
	leader *watcher
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "auditwatch: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	var err error
	env, err = framework.Start(framework.Options{NoWebhooks: true})
	if err != nil {
		return 1, err
	}
	defer env.Stop()
	if bin, err = framework.BuildSetwarden(env.Dir()); err != nil {
		return 1, err
	}
	if err := installChartAudit(); err != nil {
		return 1, err
	}
	saKubeconfig, err = env.ImpersonatingKubeconfig("audit-sa.kubeconfig", auditSA,
		[]string{"system:serviceaccounts", "system:serviceaccounts:" + framework.Namespace, "system:authenticated"})
	if err != nil {
		return 1, err
	}
	if leader, err = startWatcher("leader"); err != nil {
		return 1, err
	}
	defer func() { leader.stop() }() // the leader in place when the tests end
	if err := leader.waitPasses(1); err != nil {
		return 1, fmt.Errorf("%w\n%s", err, leader.log())
	}
	return m.Run(), nil
}

// installChartAudit renders the chart with the audit on and applies its
// CRDs, ServiceAccount, RBAC and Lease (not the Deployment and the
// NetworkPolicy: the watcher runs here, as a process).
func installChartAudit() error {
	home, err := os.MkdirTemp(env.Dir(), "helm")
	if err != nil {
		return err
	}
	ctx := context.Background()
	res, err := framework.RunHelm(ctx, env.Kubeconfig, home, "template", release, framework.ChartDir(),
		"--namespace", framework.Namespace, "--set", "audit.enabled=true",
		"--show-only", "templates/reports-crds.yaml", "--show-only", "templates/audit.yaml")
	if err != nil {
		return err
	}
	var keep []string
	for _, doc := range strings.Split(res.Stdout, "\n---\n") {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return err
		}
		if head.Kind != "" && head.Kind != "Deployment" && head.Kind != "NetworkPolicy" {
			keep = append(keep, doc)
		}
	}
	path := filepath.Join(env.Dir(), "audit-chart.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(keep, "\n---\n")), 0o600); err != nil {
		return err
	}
	if out, err := runKubectl(ctx, "", "apply", "--server-side", "-f", path); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	_, err = runKubectl(ctx, "", "wait", "--for=condition=Established", "crd/reports.openreports.io", "--timeout=60s")
	return err
}
