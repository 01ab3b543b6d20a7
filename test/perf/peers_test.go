package perf

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/setwarden/setwarden/internal/server/certs"
	"github.com/setwarden/setwarden/test/framework"
)

// A peer is a policy engine users choose instead of setwarden, run out of
// cluster against the bench's kube-apiserver as its own process: Kyverno's
// admission controller or Gatekeeper's manager, built by hack/build-peers.sh
// into bin/. It gets its CRDs from its own Go module, its own serving
// certificate, the equivalent policies in test/perf/peers/<name>/, and
// webhook configurations the bench registers (URL clientConfig to
// localhost) with the scope of setwarden's: the same resources, namespaces
// and failure policies, so every arm sees the same admission calls.
type peer struct {
	name string
	// module is the Go module the binary and its CRDs come from.
	module string
	// crdDirs are the CRD folders inside the module.
	crdDirs []string
	// namespace is the engine's own namespace.
	namespace string
	// mutatePath and validatePath are where the engine serves the webhooks
	// the bench registers; hookPrefix names them.
	mutatePath, validatePath, hookPrefix string
	// prepare creates what the engine needs before it starts (namespace,
	// configuration, secrets); args are its command line.
	prepare func(t *testing.T, env *framework.Env, p *peerProcess)
	args    func(p *peerProcess, kubeconfig string) []string
	// env is its environment (the Downward API's in a pod).
	env func(p *peerProcess) []string
	// readyURL is its readiness probe.
	readyURL func(p *peerProcess) string
}

// peerProcess is a running peer engine.
type peerProcess struct {
	*peer
	bin                          string
	dir                          string
	port, probePort, metricsPort int
	caPEM                        []byte
	tlsCert, tlsKey, caCert      []byte
	caKey                        []byte
	logged
	// ready is the time from start to the readiness probe's first success.
	ready time.Duration
}

// peers are the engines of the peer arms, in the order the arms run.
func peers() []*peer {
	return []*peer{kyvernoPeer(), gatekeeperPeer()}
}

// kyvernoPeer is Kyverno's admission controller v1.19.1. Out of cluster it
// serves on --serverIP, reads its serving certificate from the Secrets it
// is named (--disableCertManagerController: the bench writes them), and
// with --autoUpdateWebhooks=false creates its resource webhook
// configurations only when they are missing: the bench creates empty ones
// of those names first, so Kyverno's match-everything defaults never exist
// and the bench's own configurations are the only ones that send it
// workloads. Admission reports are off (setwarden writes none on the
// admission path); events are the chart's default (no PolicyApplied or
// PolicySkipped).
func kyvernoPeer() *peer {
	return &peer{
		name:         "kyverno",
		module:       "github.com/kyverno/kyverno",
		crdDirs:      []string{"config/crds/kyverno", "config/crds/policies.kyverno.io", "config/crds/policyreport", "config/crds/reports"},
		namespace:    "kyverno",
		mutatePath:   "/mutate/ignore",
		validatePath: "/validate/fail",
		hookPrefix:   "kyverno.svc",
		prepare: func(t *testing.T, env *framework.Env, p *peerProcess) {
			createObjects(t, env.Client,
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.namespace}},
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kyverno", Namespace: p.namespace}},
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kyverno-metrics", Namespace: p.namespace}},
				&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kyverno-perf-ca", Namespace: p.namespace}, Type: corev1.SecretTypeTLS,
					Data: map[string][]byte{corev1.TLSCertKey: p.caCert, corev1.TLSPrivateKeyKey: p.caKey}},
				&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kyverno-perf-tls", Namespace: p.namespace}, Type: corev1.SecretTypeTLS,
					Data: map[string][]byte{corev1.TLSCertKey: p.tlsCert, corev1.TLSPrivateKeyKey: p.tlsKey}},
				&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kyverno-resource-mutating-webhook-cfg"}},
				&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kyverno-resource-validating-webhook-cfg"}},
			)
		},
		args: func(p *peerProcess, kubeconfig string) []string {
			return []string{"--kubeconfig=" + kubeconfig,
				"--serverIP=127.0.0.1", "--webhookServerHost=127.0.0.1",
				"--webhookServerPort=" + strconv.Itoa(p.port), "--servicePort=" + strconv.Itoa(p.port),
				"--caSecretName=kyverno-perf-ca", "--tlsSecretName=kyverno-perf-tls", "--disableCertManagerController",
				"--autoUpdateWebhooks=false", "--admissionReports=false", "--omitEvents=PolicyApplied,PolicySkipped",
				"--metricsHost=127.0.0.1", "--metricsPort=" + strconv.Itoa(p.metricsPort), "--controllerRuntimeMetricsAddress=0",
				"--loggingFormat=text", "--disableLogColor", "--v=2"}
		},
		env: func(p *peerProcess) []string {
			return []string{"KYVERNO_NAMESPACE=" + p.namespace, "KYVERNO_POD_NAME=kyverno-perf", "KYVERNO_DEPLOYMENT=kyverno",
				"KYVERNO_SERVICEACCOUNT_NAME=kyverno", "INIT_CONFIG=kyverno", "METRICS_CONFIG=kyverno-metrics"}
		},
		readyURL: func(p *peerProcess) string { return fmt.Sprintf("https://127.0.0.1:%d/health/readiness", p.port) },
	}
}

// gatekeeperPeer is Gatekeeper's manager v3.23.1 with the operations of the
// chart's controller-manager pods (the validating and mutating webhooks, and
// generate, which makes the constraints' CRDs; audit runs in pods of its own), its certificate from --cert-dir, and no
// certificate rotation, so it leaves the webhook configurations alone.
func gatekeeperPeer() *peer {
	return &peer{
		name:         "gatekeeper",
		module:       "github.com/open-policy-agent/gatekeeper/v3",
		crdDirs:      []string{"manifest_staging/charts/gatekeeper/crds"},
		namespace:    "gatekeeper-system",
		mutatePath:   "/v1/mutate",
		validatePath: "/v1/admit",
		hookPrefix:   "gatekeeper.sh",
		prepare: func(t *testing.T, env *framework.Env, p *peerProcess) {
			// Gatekeeper owns its status objects by its Pod, which must
			// exist; it never runs (no node), as the process is its stand-in.
			createObjects(t, env.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.namespace}},
				&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gatekeeper-perf", Namespace: p.namespace},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "gatekeeper"}}}})
			for _, name := range []string{"tls.crt", "tls.key"} {
				data := map[string][]byte{"tls.crt": p.tlsCert, "tls.key": p.tlsKey}[name]
				if err := os.WriteFile(filepath.Join(p.dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// The sync configuration that fills data.inventory with Services.
			applyFiles(t, env, "sync.yaml")(p)
		},
		args: func(p *peerProcess, kubeconfig string) []string {
			return []string{"--kubeconfig=" + kubeconfig,
				"--host=127.0.0.1", "--port=" + strconv.Itoa(p.port), "--cert-dir=" + p.dir, "--disable-cert-rotation",
				"--health-addr=127.0.0.1:" + strconv.Itoa(p.probePort), "--prometheus-port=" + strconv.Itoa(p.metricsPort),
				"--metrics-addr=0", "--operation=webhook", "--operation=mutation-webhook", "--operation=generate",
				"--exempt-namespace=" + p.namespace, "--disable-opa-builtin={http.send}", "--log-level=INFO", "--logtostderr"}
		},
		env: func(p *peerProcess) []string {
			return []string{"POD_NAMESPACE=" + p.namespace, "POD_NAME=gatekeeper-perf", "CONTAINER_NAME=manager"}
		},
		readyURL: func(p *peerProcess) string { return fmt.Sprintf("http://127.0.0.1:%d/readyz", p.probePort) },
	}
}

// binary returns the peer's binary in bin/, or "" when it was not built.
func (pe *peer) binary() string {
	bin := filepath.Join(framework.AssetsDir(), pe.name)
	if _, err := os.Stat(bin); err != nil {
		return ""
	}
	return bin
}

// availablePeers returns the peers whose binaries are built, and prints why
// each missing one's arm is skipped.
func availablePeers() []*peer {
	var out []*peer
	for _, pe := range peers() {
		if pe.binary() == "" {
			fmt.Printf("perf: peers: %s arm skipped: %s not found; `make peers` (hack/build-peers.sh) builds it\n",
				pe.name, filepath.Join(framework.AssetsDir(), pe.name))
			continue
		}
		out = append(out, pe)
	}
	return out
}

// moduleDir downloads the peer's module (its tools module pins the
// version) and returns its folder in the module cache.
func (pe *peer) moduleDir(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", pe.module)
	cmd.Dir = filepath.Join(framework.RepoRoot(), "hack", "tools", pe.name)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: go mod download %s: %v", pe.name, pe.module, err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("%s: go mod download %s: no folder in %s (%v)", pe.name, pe.module, out, err)
	}
	return m.Dir
}

// start installs the peer's CRDs, prepares and starts it, and waits until
// its readiness probe passes; the policies are installed afterwards.
func (pe *peer) start(t *testing.T, env *framework.Env) *peerProcess {
	t.Helper()
	mod := pe.moduleDir(t)
	var dirs []string
	for _, d := range pe.crdDirs {
		dirs = append(dirs, filepath.Join(mod, d))
	}
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: dirs, ErrorIfPathMissing: true}); err != nil {
		t.Fatalf("%s: installing its CRDs from %s: %v", pe.name, mod, err)
	}
	p := &peerProcess{peer: pe, bin: pe.binary(), dir: t.TempDir()}
	p.log = filepath.Join(p.dir, pe.name+".log")
	freePorts(t, &p.port, &p.probePort, &p.metricsPort)
	p.writeCert(t)
	pe.prepare(t, env, p)
	cmd := exec.Command(p.bin, pe.args(p, env.Kubeconfig)...)
	cmd.Env = append(os.Environ(), pe.env(p)...)
	p.launch(t, cmd, p.log)
	t.Cleanup(p.stop)
	p.waitReady(t)
	fmt.Printf("perf: peers: %s ready %s after start (log %s)\n", pe.name, p.ready.Round(time.Millisecond), p.log)
	return p
}

// writeCert makes the peer's own CA and serving certificate for localhost.
func (p *peerProcess) writeCert(t *testing.T) {
	t.Helper()
	ca, err := certs.NewCA(p.name+"-perf", time.Now(), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := certs.NewServingCert(ca, []string{"localhost"}, time.Now(), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p.tlsKey, err = certs.EncodeKey(serving.Key); err != nil {
		t.Fatal(err)
	}
	if p.caKey, err = certs.EncodeKey(ca.Key); err != nil {
		t.Fatal(err)
	}
	// The certificate alone, without its CA: Kyverno takes a chain in its
	// TLS Secret for an invalid certificate.
	p.tlsCert = certs.EncodeCerts(serving.Cert)
	p.caCert = certs.EncodeCerts(ca.Cert)
	p.caPEM = p.caCert
}

// waitReady polls the readiness probe until it answers 200.
func (p *peerProcess) waitReady(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a local probe
	}}
	url := p.readyURL(p)
	last := ""
	for time.Since(p.started) < 60*time.Second {
		select {
		case <-p.done:
			t.Fatalf("%s exited; log:\n%s", p.name, tail(readFile(p.log), 4000))
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready = time.Since(p.started)
				return
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s not ready within 60s (last probe: %s); errors in its log:\n%s", p.name, last, tail(errorLines(readFile(p.log)), 4000))
}

// installPolicies creates the peer's policies from test/perf/peers/<name>/.
func (p *peerProcess) installPolicies(t *testing.T, env *framework.Env) {
	t.Helper()
	switch p.name {
	case "kyverno":
		applyFiles(t, env, "agent-tolerations.yaml", "statefulsets.yaml")(p)
	case "gatekeeper":
		// The constraints' kinds exist once Gatekeeper has compiled the
		// templates; applyFiles retries until they do.
		applyFiles(t, env, "templates.yaml", "constraints.yaml", "agent-tolerations.yaml")(p)
	}
}

// webhooks returns the peer arm's webhook configurations: setwarden's (the
// chart's scope: resources, namespaces, failure policies, timeouts),
// renamed and pointed at the peer's paths on localhost.
func (p *peerProcess) webhooks(t *testing.T) []client.Object {
	t.Helper()
	mutating, validating, err := framework.LoadWebhookConfigurations()
	if err != nil {
		t.Fatal(err)
	}
	point := func(cc *admissionregistrationv1.WebhookClientConfig, path string) {
		url := fmt.Sprintf("https://localhost:%d%s", p.port, path)
		cc.URL, cc.Service, cc.CABundle = &url, nil, p.caPEM
	}
	var objs []client.Object
	for _, m := range mutating {
		m.Name = "perf-" + p.name
		for i := range m.Webhooks {
			m.Webhooks[i].Name = "mutate." + p.hookPrefix
			point(&m.Webhooks[i].ClientConfig, p.mutatePath)
		}
		objs = append(objs, m)
	}
	for _, v := range validating {
		v.Name = "perf-" + p.name
		for i := range v.Webhooks {
			v.Webhooks[i].Name = "validate." + p.hookPrefix
			point(&v.Webhooks[i].ClientConfig, p.validatePath)
		}
		objs = append(objs, v)
	}
	return objs
}

// denial is the part of a denial that names the peer's validating webhook.
func (p *peerProcess) denial() string {
	return `admission webhook "validate.` + p.hookPrefix + `" denied`
}

// peerObjects reads the YAML documents of test/perf/peers/<name>/<file>.
func peerObjects(name, file string) ([]*unstructured.Unstructured, error) {
	path := filepath.Join(framework.RepoRoot(), "test", "perf", "peers", name, file)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// applyFiles returns a function that creates the objects of the peer's
// files, in order, retrying for a minute while their kinds are not served
// yet (with a new client, whose REST mapper learns the new kinds) or the
// engine's own webhooks refuse them for that reason.
func applyFiles(t *testing.T, env *framework.Env, files ...string) func(p *peerProcess) {
	return func(p *peerProcess) {
		t.Helper()
		c := env.Client
		for _, file := range files {
			objs, err := peerObjects(p.name, file)
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range objs {
				start := time.Now()
				for {
					err := c.Create(t.Context(), obj.DeepCopy())
					if err == nil || apierrors.IsAlreadyExists(err) {
						break
					}
					if time.Since(start) > 60*time.Second {
						t.Fatalf("%s: creating %s %s from %s: %v; errors in its log:\n%s", p.name, obj.GetKind(), obj.GetName(), file, err,
							tail(errorLines(readFile(p.log)), 4000))
					}
					time.Sleep(200 * time.Millisecond)
					if meta.IsNoMatchError(err) {
						if c, err = client.New(env.Config, client.Options{}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
	}
}

// createObjects creates objs, leaving alone those that exist.
func createObjects(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, obj := range objs {
		if err := c.Create(t.Context(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

// errorLines returns the lines of a log that report errors.
func errorLines(log string) string {
	var out []string
	for l := range strings.SplitSeq(log, "\n") {
		if strings.Contains(l, "ERR") || strings.Contains(l, "error") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// cpuTime is the CPU time (user and system) process pid has used so far,
// from /proc/pid/stat, in clock ticks of 10 ms (USER_HZ on Linux).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, may contain spaces; fields after it are
	// counted from its closing parenthesis: utime and stime are 14 and 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// procMemory reads process pid's resident set, its peak, and its split
// into anonymous memory and mapped files, from /proc/pid/status.
func procMemory(pid int) (memoryFigures, error) {
	var m memoryFigures
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	fields := map[string]*float64{"VmRSS:": &m.rssMiB, "VmHWM:": &m.hwmMiB, "RssAnon:": &m.anonMiB, "RssFile:": &m.fileMiB}
	for l := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && fields[f[0]] != nil {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return m, err
			}
			*fields[f[0]] = kb / 1024
		}
	}
	if m.rssMiB == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, nil
}

// apiServerPID finds the kube-apiserver serving on the given port.
func apiServerPID(port string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "kube-apiserver" {
			continue
		}
		for i, a := range args {
			if a == "--secure-port="+port || (a == "--secure-port" && i+1 < len(args) && args[i+1] == port) {
				return pid
			}
		}
	}
	return 0
}
