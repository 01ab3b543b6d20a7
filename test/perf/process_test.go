package perf

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/setwarden/setwarden/internal/server/certs"
	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/test/framework"
)

// The cluster size of the memory and start-up measurements (4 and 5 in the
// performance table).
const (
	cacheServices = 10000
	cacheNodes    = 1000
)

// settle is how long a server runs after readiness (or after the cache
// filled) before its memory is read, so start-up garbage can be collected.
const settle = 5 * time.Second

// TestMemoryAndStartup measures memory and start-up (4 and 5 in the performance
// table) on the built binary, run as a separate process against a real API
// server: its resident memory idle on an empty cluster, then with 10,000
// Services and 1,000 Nodes in its cache (after they are created while it runs,
// and after a restart on them), and how long it takes to become ready, in total
// and after its caches have synced, on the empty and on the full cluster. It
// prints figures and asserts no timings; it runs with SETWARDEN_PERF=1 (make
// bench).
func TestMemoryAndStartup(t *testing.T) {
	env := startPerfEnv(t)
	dir := t.TempDir()
	bin := buildShipped(t, dir)
	tlsCfg, _ := writeServingCert(t, dir)

	idle := startServer(t, bin, env.Kubeconfig, dir, "idle")
	defer idle.stop()
	up := idle.waitReady(t)
	reportStartup(t, "empty cluster", up)
	time.Sleep(settle)
	mem := idle.memory(t)
	emit(t, Record{Target: 4, Figure: "RSS idle (empty cluster)", Value: mem.rssMiB, Unit: "MiB", Limit: 40,
		Note: fmt.Sprintf("%s; %s after ready", mem, settle)})

	lastService, lastNode := populate(t, loadClient(t, env.Config))
	took := idle.waitCached(t, tlsCfg, lastService, lastNode)
	fmt.Printf("perf: memory: the server's cache had every Service and Node %s after the last create\n", took.Round(time.Millisecond))
	time.Sleep(settle)
	mem = idle.memory(t)
	emit(t, Record{Target: 4, Figure: "RSS, 10k Services + 1k Nodes created while running", Value: mem.rssMiB, Unit: "MiB", Limit: 80,
		Note: fmt.Sprintf("%s; %s after the cache filled", mem, settle)})
	idle.stop()

	full := startServer(t, bin, env.Kubeconfig, dir, "full")
	defer full.stop()
	up = full.waitReady(t)
	reportStartup(t, "10k Services + 1k Nodes", up)
	time.Sleep(settle)
	mem = full.memory(t)
	emit(t, Record{Target: 4, Figure: "RSS, restarted on 10k Services + 1k Nodes", Value: mem.rssMiB, Unit: "MiB", Limit: 80,
		Note: fmt.Sprintf("%s; %s after ready", mem, settle)})
}

// buildShipped builds the setwarden binary as the Dockerfile does (static,
// stripped), since a binary's size shows in its resident memory.
func buildShipped(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "setwarden")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/setwarden")
	cmd.Dir = framework.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, b)
	}
	if fi, err := os.Stat(out); err == nil {
		fmt.Printf("perf: memory: binary built as the Dockerfile does (CGO_ENABLED=0, -trimpath -ldflags='-s -w'): %.1f MiB\n", float64(fi.Size())/(1<<20))
	}
	return out
}

func reportStartup(t *testing.T, cluster string, up startup) {
	t.Helper()
	emit(t, Record{Target: 5, Figure: "start to ready, " + cluster, Value: ms(up.ready), Unit: "ms",
		Note: fmt.Sprintf("caches synced by %.0f ms", ms(up.cacheSynced))})
	emit(t, Record{Target: 5, Figure: "ready after caches synced, " + cluster, Value: ms(up.afterSync()), Unit: "ms", Limit: 1000,
		Note: fmt.Sprintf("upper bound: the caches synced after the %.0f ms probe", ms(up.cacheNotSynced))})
}

// writeServingCert writes a serving certificate for localhost into dir and
// returns a client TLS configuration that trusts it, and its CA in PEM.
func writeServingCert(t *testing.T, dir string) (*tls.Config, []byte) {
	t.Helper()
	ca, err := certs.NewCA("setwarden-perf", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := certs.NewServingCert(ca, []string{"localhost"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := certs.EncodeKey(serving.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), certs.EncodeCerts(serving.Cert, ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}, certs.EncodeCerts(ca.Cert)
}

// logged is a process whose output goes to a log file.
type logged struct {
	cmd     *exec.Cmd
	log     string
	started time.Time
	// done is closed when the process has ended.
	done chan struct{}
}

// launch starts cmd with its output in the file log.
func (l *logged) launch(t *testing.T, cmd *exec.Cmd, log string) {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	l.cmd, l.log, l.done = cmd, log, make(chan struct{})
	cmd.Stdout, cmd.Stderr = f, f
	l.started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(l.done)
	}()
}

// stop kills the process, once.
func (l *logged) stop() {
	select {
	case <-l.done:
		return
	default:
	}
	_ = l.cmd.Process.Kill()
	<-l.done
}

// process is a `setwarden serve` or `setwarden audit --watch` process.
type process struct {
	logged
	name                                    string
	port, probePort, metricsPort, pprofPort int
}

func startServer(t *testing.T, bin, kubeconfig, dir, name string, extraArgs ...string) *process {
	t.Helper()
	p := &process{name: name}
	freePorts(t, &p.port, &p.probePort, &p.metricsPort)
	cmd := exec.Command(bin, "serve", "--kubeconfig", kubeconfig,
		"--host", "127.0.0.1", "--port", strconv.Itoa(p.port), "--cert-dir", dir,
		"--metrics-bind-address", "127.0.0.1:"+strconv.Itoa(p.metricsPort),
		"--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(p.probePort),
		"--zap-log-level", "info")
	cmd.Args = append(cmd.Args, extraArgs...)
	p.launch(t, cmd, filepath.Join(dir, name+".log"))
	return p
}

// freePorts sets each port to a free TCP port of 127.0.0.1.
func freePorts(t *testing.T, ports ...*int) {
	t.Helper()
	for _, port := range ports {
		var err error
		if *port, err = framework.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
}

// startup holds the times from process start to the probes that saw the
// caches not yet synced, the caches synced, and the server ready.
type startup struct {
	cacheNotSynced, cacheSynced, ready time.Duration
}

// afterSync bounds from above how long readiness took after the caches had
// synced: they synced after the last probe that saw them unsynced.
func (s startup) afterSync() time.Duration { return s.ready - s.cacheNotSynced }

// waitReady polls /readyz?verbose, whose "cache" check turns ok when the
// informers have synced, until the server is ready.
func (p *process) waitReady(t *testing.T) startup {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz?verbose", p.probePort)
	var up startup
	for time.Since(p.started) < 60*time.Second {
		select {
		case <-p.done:
			t.Fatalf("%s server exited; log:\n%s", p.name, readFile(p.log))
		default:
		}
		resp, err := client.Get(url)
		at := time.Since(p.started)
		if err != nil {
			// The manager serves probes before it starts the caches.
			up.cacheNotSynced = at
			time.Sleep(2 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		synced := strings.Contains(string(body), "[+]cache ok")
		switch {
		case !synced:
			up.cacheNotSynced = at
		case up.cacheSynced == 0:
			up.cacheSynced = at
		}
		if resp.StatusCode == http.StatusOK {
			up.ready = at
			return up
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s server not ready within 60s; log:\n%s", p.name, readFile(p.log))
	return up
}

// memoryFigures are a process's resident set now and at its peak, the
// resident set's split into anonymous memory and mapped files (the binary),
// and the Go runtime's view: heap in use and all memory obtained from the OS.
type memoryFigures struct{ rssMiB, hwmMiB, anonMiB, fileMiB, heapMiB, sysMiB float64 }

func (m memoryFigures) String() string {
	return fmt.Sprintf("VmHWM %.1f, RssAnon %.1f, RssFile %.1f, Go heap in use %.1f, Go sys %.1f MiB",
		m.hwmMiB, m.anonMiB, m.fileMiB, m.heapMiB, m.sysMiB)
}

func (p *process) memory(t *testing.T) memoryFigures {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var m memoryFigures
	fields := map[string]*float64{"VmRSS:": &m.rssMiB, "VmHWM:": &m.hwmMiB, "RssAnon:": &m.anonMiB, "RssFile:": &m.fileMiB}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if v := fields[f[0]]; v != nil && len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			*v = kb / 1024
		}
	}
	m.heapMiB = p.metric(t, "go_memstats_heap_inuse_bytes") / (1 << 20)
	m.sysMiB = p.metric(t, "go_memstats_sys_bytes") / (1 << 20)
	return m
}

// waitCached waits until the server's cache holds the last Service and
// Node the API server stored (watch events arrive in that order): a review
// naming the Service then makes no live GET (the cache miss fallback, seen
// in the client metrics), and one selecting the Node draws no
// node-affinity-no-matching-nodes warning.
func (p *process) waitCached(t *testing.T, tlsCfg *tls.Config, service, node string) time.Duration {
	t.Helper()
	start := time.Now()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	sts := statefulSet(service)
	dep := deployment()
	dep.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node}
	stsReview, err := Review(admissionv1.Create, metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, sts, nil)
	if err != nil {
		t.Fatal(err)
	}
	depReview, err := Review(admissionv1.Create, metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, dep, nil)
	if err != nil {
		t.Fatal(err)
	}
	for time.Since(start) < 120*time.Second {
		before := p.liveGets(t)
		p.review(t, client, stsReview)
		serviceCached := p.liveGets(t) == before
		nodeCached := !strings.Contains(strings.Join(p.review(t, client, depReview), "\n"), policies.RuleNodeAffinityNoMatchingNodes)
		if serviceCached && nodeCached {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the %s server's cache did not get Service %s and Node %s within 120s", p.name, service, node)
	return 0
}

// review sends an AdmissionReview to /validate and returns its warnings.
func (p *process) review(t *testing.T, client *http.Client, body []byte) []string {
	t.Helper()
	resp, err := client.Post(fmt.Sprintf("https://127.0.0.1:%d/validate", p.port), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ar admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil || ar.Response == nil {
		t.Fatalf("review: HTTP %d, %v", resp.StatusCode, err)
	}
	return ar.Response.Warnings
}

// liveGets is the number of GET requests the server has sent the API
// server (client-go's rest_client_requests_total).
func (p *process) liveGets(t *testing.T) int {
	t.Helper()
	return int(p.metric(t, `rest_client_requests_total{`, `method="GET"`))
}

// metric sums the samples of the server's metrics whose line starts with
// prefix and contains every label in labels.
func (p *process) metric(t *testing.T, prefix string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	total := 0.0
	for l := range strings.SplitSeq(string(body), "\n") {
		missing := slices.ContainsFunc(labels, func(label string) bool { return !strings.Contains(l, label) })
		if !strings.HasPrefix(l, prefix) || missing {
			continue
		}
		f := strings.Fields(l)
		n, _ := strconv.ParseFloat(f[len(f)-1], 64)
		total += n
	}
	return total
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
