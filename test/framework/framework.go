// Package framework runs setwarden end to end against a real etcd and
// kube-apiserver (controller-runtime's envtest with the binaries that
// hack/build-tools.sh builds into bin/). The API server calls the setwarden
// webhook server over TLS, using the webhook configurations the Helm chart
// renders (charts/setwarden/files/webhooks.yaml).
package framework

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/setwarden/setwarden/cmd/setwarden/app"
)

// Namespace is setwarden's own namespace in the tests.
const Namespace = "setwarden-system"

// RepoRoot returns the repository root.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir returns the directory holding etcd, kube-apiserver and kubectl:
// $KUBEBUILDER_ASSETS, or bin/ in the repository.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(), "bin")
}

// Env is a running API server with setwarden's webhooks installed.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is a controller-runtime client whose warnings go to Warnings.
	Client client.Client
	// Warnings records the admission warnings of the Client's requests.
	Warnings *WarningRecorder
	// Kubeconfig is a kubeconfig file for the API server.
	Kubeconfig string
	// ConfigPath is the PolicyConfig file the server watches.
	ConfigPath string
	// ServerLog is the file the webhook server logs to.
	ServerLog string

	testEnv *envtest.Environment
	stop    context.CancelFunc
	done    chan int
	dir     string
}

// Options tune Start.
type Options struct {
	// PolicyConfig is the initial PolicyConfig document ("" for defaults).
	PolicyConfig string
	// NoWebhooks starts the API server without setwarden's webhooks.
	NoWebhooks bool
}

// Start starts etcd, kube-apiserver and, unless opts.NoWebhooks, the
// setwarden webhook server, and waits until setwarden is ready.
func Start(opts Options) (*Env, error) {
	assets := AssetsDir()
	for _, bin := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make tools` (hack/build-tools.sh) to build the test binaries", bin, assets)
		}
	}
	dir, err := os.MkdirTemp("", "setwarden-e2e-")
	if err != nil {
		return nil, err
	}
	e := &Env{dir: dir, ConfigPath: filepath.Join(dir, "policy.yaml"), ServerLog: filepath.Join(dir, "server.log")}
	if err := os.WriteFile(e.ConfigPath, []byte(opts.PolicyConfig), 0o600); err != nil {
		return nil, err
	}
	e.testEnv = &envtest.Environment{BinaryAssetsDirectory: assets, ErrorIfCRDPathMissing: true}
	if !opts.NoWebhooks {
		if err := e.installWebhookOptions(); err != nil {
			return nil, err
		}
	}
	if e.Config, err = e.testEnv.Start(); err != nil {
		return nil, fmt.Errorf("starting the API server: %w", err)
	}
	if err := e.setup(!opts.NoWebhooks); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Env) setup(webhooks bool) error {
	var err error
	e.Warnings = &WarningRecorder{}
	cfg := rest.CopyConfig(e.Config)
	cfg.WarningHandlerWithContext = e.Warnings
	if e.Client, err = client.New(cfg, client.Options{}); err != nil {
		return err
	}
	if e.Kubeconfig, err = e.writeKubeconfig(); err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		return fmt.Errorf("creating namespace %s: %w", Namespace, err)
	}
	if !webhooks {
		return nil
	}
	return e.startServer()
}

func (e *Env) writeKubeconfig() (string, error) {
	user, err := e.testEnv.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(e.dir, "kubeconfig")
	return path, os.WriteFile(path, kc, 0o600)
}

// installWebhookOptions loads the chart's webhook configurations and points
// them at the local server on a free port, with envtest's serving certs.
func (e *Env) installWebhookOptions() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	mutating, validating, err := LoadWebhookConfigurations()
	if err != nil {
		return err
	}
	for _, m := range mutating {
		for i := range m.Webhooks {
			toURL(&m.Webhooks[i].ClientConfig, port)
		}
	}
	for _, v := range validating {
		for i := range v.Webhooks {
			toURL(&v.Webhooks[i].ClientConfig, port)
		}
	}
	e.testEnv.WebhookInstallOptions = envtest.WebhookInstallOptions{
		LocalServingHost:   "127.0.0.1",
		LocalServingPort:   port,
		MutatingWebhooks:   mutating,
		ValidatingWebhooks: validating,
	}
	return nil
}

func toURL(cc *admissionregistrationv1.WebhookClientConfig, port int) {
	url := fmt.Sprintf("https://127.0.0.1:%d%s", port, *cc.Service.Path)
	cc.URL, cc.Service = &url, nil
}

// LoadWebhookConfigurations reads charts/setwarden/files/webhooks.yaml.
func LoadWebhookConfigurations() ([]*admissionregistrationv1.MutatingWebhookConfiguration, []*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	data, err := os.ReadFile(filepath.Join(RepoRoot(), "charts", "setwarden", "files", "webhooks.yaml"))
	if err != nil {
		return nil, nil, err
	}
	var mutating []*admissionregistrationv1.MutatingWebhookConfiguration
	var validating []*admissionregistrationv1.ValidatingWebhookConfiguration
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		// The decoder hands back each YAML document as JSON.
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("webhooks.yaml: %w", err)
		}
		var meta metav1.TypeMeta
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, nil, fmt.Errorf("webhooks.yaml: %w", err)
		}
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			m := &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := unmarshalStrict(raw, m); err != nil {
				return nil, nil, err
			}
			mutating = append(mutating, m)
		case "ValidatingWebhookConfiguration":
			v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := unmarshalStrict(raw, v); err != nil {
				return nil, nil, err
			}
			validating = append(validating, v)
		}
	}
	return mutating, validating, nil
}

// startServer runs `setwarden serve` in-process and waits for readiness.
func (e *Env) startServer() error {
	probePort, err := freePort()
	if err != nil {
		return err
	}
	logFile, err := os.Create(e.ServerLog)
	if err != nil {
		return err
	}
	wo := e.testEnv.WebhookInstallOptions
	args := []string{"serve",
		"--kubeconfig", e.Kubeconfig,
		"--host", wo.LocalServingHost, "--port", strconv.Itoa(wo.LocalServingPort),
		"--cert-dir", wo.LocalServingCertDir,
		"--config", e.ConfigPath, "--config-poll-interval", "200ms",
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probePort),
		"--graceful-shutdown-timeout", "5s",
		"--zap-log-level", "debug",
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done = cancel, make(chan int, 1)
	go func() {
		code := app.Run(ctx, args, nil, logFile, logFile)
		logFile.Close()
		e.done <- code
	}()
	return e.waitReady(probePort)
}

func (e *Env) waitReady(probePort int) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-e.done:
			return fmt.Errorf("setwarden serve exited with code %d; log in %s", code, e.ServerLog)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e.waitServing()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("setwarden did not become ready within 60s; log in %s", e.ServerLog)
}

// waitServing waits until the webhook port answers TLS handshakes.
func (e *Env) waitServing() error {
	wo := e.testEnv.WebhookInstallOptions
	addr := net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort))
	for range 100 {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
		if err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("webhook server at %s does not answer", addr)
}

// Stop stops the webhook server and the API server.
func (e *Env) Stop() error {
	if e.stop != nil {
		e.stop()
		select {
		case <-e.done:
		case <-time.After(15 * time.Second):
		}
	}
	err := e.testEnv.Stop()
	if os.Getenv("SETWARDEN_E2E_KEEP") == "" {
		os.RemoveAll(e.dir)
	}
	return err
}

// Kubectl returns the path of the kubectl binary.
func Kubectl() string { return filepath.Join(AssetsDir(), "kubectl") }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WarningRecorder collects the warnings the API server returns.
type WarningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (w *WarningRecorder) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code != 299 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

// Take returns the warnings recorded since the last Take and forgets them.
func (w *WarningRecorder) Take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.warnings
	w.warnings = nil
	return out
}

// CertDir is the directory the webhook server reads tls.crt and tls.key
// from (envtest's serving certificate, trusted by the API server).
func (e *Env) CertDir() string { return e.testEnv.WebhookInstallOptions.LocalServingCertDir }
