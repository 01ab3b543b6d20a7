// Package chartinstall installs charts/setwarden with the helm binary into a
// real kube-apiserver, in each TLS mode, and proves what an operator relies
// on: the API server accepts every object the chart renders, a namespace
// labelled for the restricted PodSecurity standard raises no warning, the
// self-managed release admits and denies through its own webhook
// configurations with only its own RBAC, and `helm uninstall` leaves no
// webhook configuration that could lock the cluster.
//
// The API server here has the cert-manager CRDs, so Issuers and Certificates
// are schema-checked, but no controllers: the Deployment never gets pods. In
// self-managed mode the test runs the built setwarden binary locally with
// the chart's ConfigMap and flags, and the chart's Service is replaced by an
// ExternalName for localhost (the only test-only change), so the API server
// calls the local binary while it verifies the <svc>.<ns>.svc name. helm
// reaches the API server through framework.VersionProxy, which only answers
// /version with a version helm can parse.
package chartinstall

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/setwarden/setwarden/test/framework"
)

// certManagerModule is the module whose CRD manifests the API server gets.
const certManagerModule = "github.com/cert-manager/cert-manager"

var (
	testEnv *envtest.Environment
	// adminConfig reaches the API server as an administrator.
	adminConfig *rest.Config
	// k8s is the administrator's client.
	k8s client.Client
	// kubeconfig is the administrator's kubeconfig, for kubectl.
	kubeconfig string
	// helmProxy is what helm talks to; see framework.VersionProxy.
	helmProxy *framework.VersionProxy
	// scratch holds the suite's files; kept when SETWARDEN_E2E_KEEP is set.
	scratch string
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chartinstall e2e: %v\n", err)
		code = 1
	}
	if helmProxy != nil {
		_ = helmProxy.Close()
	}
	if testEnv != nil {
		_ = testEnv.Stop()
	}
	if scratch != "" && os.Getenv("SETWARDEN_E2E_KEEP") == "" {
		os.RemoveAll(scratch)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	crds, err := certManagerCRDs()
	if err != nil {
		return 1, err
	}
	if scratch, err = os.MkdirTemp("", "setwarden-chartinstall-"); err != nil {
		return 1, err
	}
	testEnv = &envtest.Environment{
		BinaryAssetsDirectory: framework.AssetsDir(),
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: crds, ErrorIfPathMissing: true},
	}
	// PodSecurity is among kube-apiserver's default admission plugins (GA
	// since 1.25) and envtest only disables ServiceAccount; naming it keeps
	// the warnings this suite asserts on even if either default changes.
	testEnv.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "PodSecurity")
	if adminConfig, err = testEnv.Start(); err != nil {
		return 1, fmt.Errorf("starting the API server: %w", err)
	}
	if k8s, err = client.New(adminConfig, client.Options{}); err != nil {
		return 1, err
	}
	if kubeconfig, err = writeAdminKubeconfig(); err != nil {
		return 1, err
	}
	if helmProxy, err = framework.StartVersionProxy(adminConfig, filepath.Join(scratch, "helm.kubeconfig")); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// certManagerCRDs returns the CRD manifests of Issuers and Certificates in
// the cert-manager module go.mod requires, the version whose API types the
// chart's render tests decode with.
func certManagerCRDs() ([]string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", certManagerModule)
	cmd.Dir = framework.RepoRoot()
	out, err := cmd.Output()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return nil, fmt.Errorf("go list -m %s: %w: %s", certManagerModule, err, exitErr.Stderr)
	} else if err != nil {
		return nil, err
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return nil, fmt.Errorf("module %s is not in the module cache: run `go mod download %s`", certManagerModule, certManagerModule)
	}
	crds := filepath.Join(dir, "deploy", "crds")
	return []string{
		filepath.Join(crds, "cert-manager.io_issuers.yaml"),
		filepath.Join(crds, "cert-manager.io_certificates.yaml"),
	}, nil
}

func writeAdminKubeconfig() (string, error) {
	user, err := testEnv.AddUser(envtest.User{Name: "chartinstall-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(scratch, "admin.kubeconfig")
	return path, os.WriteFile(path, kc, 0o600)
}
