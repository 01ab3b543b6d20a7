package auditwatch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

// watcher is one `setwarden audit --watch` process.
type watcher struct {
	proc               *framework.Process
	metrics, probePort int
	stopOnce           sync.Once
}

// startWatcher starts a watcher as the audit ServiceAccount, with a short
// Lease so that a handover takes seconds, and the extra flags.
func startWatcher(name string, extra ...string) (*watcher, error) {
	metrics, err := framework.FreePort()
	if err != nil {
		return nil, err
	}
	probe, err := framework.FreePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"audit", "--watch", "--kubeconfig", saKubeconfig,
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metrics),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probe),
		"--leader-election-namespace", framework.Namespace, "--leader-election-id", "setwarden-audit",
		"--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "3s", "--leader-election-retry-period", "500ms",
		"--nodes-debounce", "200ms", "--zap-log-level", "debug"}, extra...)
	proc, err := framework.StartProcess(bin, filepath.Join(env.Dir(), name+".log"), args...)
	if err != nil {
		return nil, err
	}
	return &watcher{proc: proc, metrics: metrics, probePort: probe}, nil
}

func (w *watcher) log() string {
	b, _ := os.ReadFile(w.proc.Log)
	return string(b)
}

// stop sends SIGTERM and waits for the process to end.
func (w *watcher) stop() {
	w.stopOnce.Do(func() {
		_ = w.proc.Signal(syscall.SIGTERM)
		select {
		case <-w.proc.Done():
		case <-time.After(20 * time.Second):
			w.proc.Kill()
		}
	})
}

// scrape returns the watcher's metrics, one value per series as printed
// (name{labels}).
func (w *watcher) scrape() (map[string]float64, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", w.metrics))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	series := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			series[line[:i]] = v
		}
	}
	return series, sc.Err()
}

// metric returns one series, 0 when absent.
func (w *watcher) metric(t *testing.T, series string) float64 {
	t.Helper()
	m, err := w.scrape()
	if err != nil {
		t.Fatalf("scraping %s: %v", series, err)
	}
	return m[series]
}

// waitPasses waits until the watcher has completed n full passes.
func (w *watcher) waitPasses(n float64) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := w.scrape(); err == nil && m["setwarden_audit_full_passes_total"] >= n {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("no %v full passes within 60s", n)
}

// ready reports whether the watcher's readiness probe passes.
func (w *watcher) ready() bool { return framework.Ready(w.probePort) }

const (
	judgedObject  = `setwarden_audit_objects_judged_total{cause="object"}`
	judgedService = `setwarden_audit_objects_judged_total{cause="service"}`
	judgedNodes   = `setwarden_audit_objects_judged_total{cause="nodes"}`
	judgedConfig  = `setwarden_audit_objects_judged_total{cause="config"}`
	judgedStart   = `setwarden_audit_objects_judged_total{cause="start"}`
	passes        = `setwarden_audit_full_passes_total`
	events        = `setwarden_audit_events_total`
)

// reportWrites sums the Report creates, updates and deletes.
func (w *watcher) reportWrites(t *testing.T) float64 {
	t.Helper()
	m, err := w.scrape()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, op := range []string{"create", "update", "delete"} {
		n += m[fmt.Sprintf("setwarden_audit_report_writes_total{operation=%q}", op)]
	}
	return n
}

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = reportsv1alpha1.AddToScheme(s)
	return s
}()

// adminClient reads and writes as the administrator, Reports included.
func adminClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "watch-" + rand.String(6)}}
	if err := env.Client.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// reportOf returns the Report of the object with uid, if any.
func reportOf(t *testing.T, c client.Client, namespace string, obj client.Object) (*reportsv1alpha1.Report, bool) {
	t.Helper()
	rep := &reportsv1alpha1.Report{}
	err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: string(obj.GetUID())}, rep)
	if client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	return rep, err == nil
}

// waitReport waits until the object's Report holds a result of rule, and
// returns it.
func waitReport(t *testing.T, c client.Client, obj client.Object, rule string) *reportsv1alpha1.Report {
	t.Helper()
	var rep *reportsv1alpha1.Report
	framework.WaitFor(t, "a Report with "+rule+" on "+obj.GetName(), 30*time.Second, func() bool {
		r, ok := reportOf(t, c, obj.GetNamespace(), obj)
		if !ok {
			return false
		}
		for _, res := range r.Results {
			if res.Policy == rule {
				rep = r
				return true
			}
		}
		return false
	})
	return rep
}

// waitNoReport waits until the object has no Report.
func waitNoReport(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	framework.WaitFor(t, "no Report on "+obj.GetName(), 30*time.Second, func() bool {
		_, ok := reportOf(t, c, obj.GetNamespace(), obj)
		return !ok
	})
}

// violationEvents returns the PolicyViolation Events of an object.
func violationEvents(t *testing.T, obj client.Object) []corev1.Event {
	t.Helper()
	list := &corev1.EventList{}
	if err := env.Client.List(t.Context(), list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.UID == obj.GetUID() && e.Reason == "PolicyViolation" {
			out = append(out, e)
		}
	}
	return out
}

// runKubectl runs bin/kubectl as the administrator.
func runKubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, framework.Kubectl(), append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
