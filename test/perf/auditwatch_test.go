package perf

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/setwarden/setwarden/test/framework"
)

var reportsGVR = schema.GroupVersionResource{Group: "openreports.io", Version: "v1alpha1", Resource: "reports"}

// TestAuditWatch measures `setwarden audit --watch` (the shipped build, as
// its own process) on the cluster TestAuditOneShot audits: the time from
// start to the first complete set of Reports (target 30 s on 2 cores) and
// the resident memory then (target 150 MiB); the Report writes in a quiet
// period (SETWARDEN_PERF_AUDIT_QUIET seconds, 60 by default; target 0);
// and how many objects changing one Service judges again, by cause (target:
// the one StatefulSet naming it, nothing else). It prints figures and
// asserts no timings.
func TestAuditWatch(t *testing.T) {
	requirePerf(t)
	env, err := framework.Start(framework.Options{NoWebhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	ctx := t.Context()
	cluster := populateAudit(t, env)
	violating := violate(t, env, cluster)
	crds := filepath.Join(framework.ChartDir(), "files", "crds")
	if out, err := exec.CommandContext(ctx, framework.Kubectl(), "--kubeconfig", env.Kubeconfig, "apply", "--server-side", "-f", crds).CombinedOutput(); err != nil {
		t.Fatalf("installing the openreports.io CRDs: %v: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, framework.Kubectl(), "--kubeconfig", env.Kubeconfig, "wait", "--for=condition=Established",
		"crd/reports.openreports.io", "--timeout=60s").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	dir := t.TempDir()
	p := startAuditWatch(t, buildShipped(t, dir), env.Kubeconfig, dir)
	defer p.stop()

	for !p.passed() {
		select {
		case <-p.done:
			t.Fatalf("audit --watch exited; log:\n%s", readFile(p.log))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(p.started) > 5*time.Minute {
			t.Fatalf("no full pass within 5 minutes; log:\n%s", readFile(p.log))
		}
	}
	firstPass := time.Since(p.started)
	mem := p.memory(t)
	if os.Getenv("SETWARDEN_PERF_AUDIT_PPROF") != "" {
		printHeapProfile(t, p, dir)
	}
	dyn := dynamic.NewForConfigOrDie(env.Config)
	reports, err := dyn.Resource(reportsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	judged := p.metric(t, "setwarden_audit_objects_judged_total")
	fmt.Printf("perf: audit --watch: %s (%d of them violating): first complete set of %d Reports %s after start (the pass itself %.1f s after taking the Lease), %.0f objects judged; RSS %.1f MiB (%s)\n",
		cluster, violating, len(reports.Items), firstPass.Round(time.Millisecond), p.metric(t, "setwarden_audit_last_full_pass_duration_seconds"), judged, mem.rssMiB, mem)
	note := fmt.Sprintf("%s, %d violating", cluster, violating)
	emit(t, Record{Target: 6, Figure: "audit --watch, first complete set of Reports", Value: ms(firstPass), Unit: "ms", Limit: 30_000, Note: note})
	emit(t, Record{Target: 6, Figure: "audit --watch, peak RSS then", Value: mem.hwmMiB, Unit: "MiB", Limit: 150, Note: note})

	quiet := time.Duration(envInt("SETWARDEN_PERF_AUDIT_QUIET", 60)) * time.Second
	writes, events := p.metric(t, "setwarden_audit_report_writes_total"), p.metric(t, "setwarden_audit_events_total")
	time.Sleep(quiet)
	fmt.Printf("perf: audit --watch: %.0f Report writes and %.0f Events in a quiet %s\n",
		p.metric(t, "setwarden_audit_report_writes_total")-writes, p.metric(t, "setwarden_audit_events_total")-events, quiet)
	emit(t, Record{Target: 6, Figure: "audit --watch, Report writes in a quiet period", Value: p.metric(t, "setwarden_audit_report_writes_total") - writes,
		Unit: "writes", Note: quiet.String() + "; target 0"})

	causes := []string{"start", "object", "service", "nodes", "config"}
	before := map[string]float64{}
	for _, c := range causes {
		before[c] = p.metric(t, "setwarden_audit_objects_judged_total", `cause="`+c+`"`)
	}
	cs := loadClient(t, env.Config)
	svc, err := cs.CoreV1().Services(auditNamespace(7)).Get(ctx, auditService(7).Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Selector["tier"] = "db" // the StatefulSet's pods lack it: statefulset-service-selector
	if _, err := cs.CoreV1().Services(svc.Namespace).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); p.metric(t, "setwarden_audit_objects_judged_total", `cause="service"`) == before["service"]; {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the Service change judged nothing again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	line := "perf: audit --watch: changing Service " + svc.Namespace + "/" + svc.Name + " judged again:"
	for _, c := range causes {
		line += fmt.Sprintf(" %s %.0f", c, p.metric(t, "setwarden_audit_objects_judged_total", `cause="`+c+`"`)-before[c])
	}
	fmt.Println(line)
	var rejudged float64
	for _, c := range causes {
		rejudged += p.metric(t, "setwarden_audit_objects_judged_total", `cause="`+c+`"`) - before[c]
	}
	emit(t, Record{Target: 6, Figure: "audit --watch, objects judged again for one Service change", Value: rejudged, Unit: "objects", Limit: 1,
		Note: "the one StatefulSet naming it"})
	mem = p.memory(t)
	fmt.Printf("perf: audit --watch: at the end: RSS %.1f MiB (%s)\n", mem.rssMiB, mem)
}

// passed reports whether the watcher has completed its first full pass;
// false while its metrics are not served yet.
func (p *process) passed() bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.metricsPort))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return regexp.MustCompile(`(?m)^setwarden_audit_full_passes_total [1-9]`).Match(body)
}

// violate makes one workload in ten violate a rule, so that the first pass
// has Reports to write: every tenth Deployment tolerates the control-plane
// taint by value (toleration-value-fragile), and the Service of every
// tenth StatefulSet selects a label its pods lack
// (statefulset-service-selector). It returns how many objects violate.
func violate(t *testing.T, env *framework.Env, c auditCluster) int {
	t.Helper()
	ctx := t.Context()
	cs := loadClient(t, env.Config)
	start := time.Now()
	createAll(t, c.deployments/10, func(i int) (metav1.Object, error) {
		d := auditDeployment(i * 10)
		current, err := cs.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		current.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane",
			Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
		return cs.AppsV1().Deployments(d.Namespace).Update(ctx, current, metav1.UpdateOptions{})
	})
	createAll(t, c.statefulSets/10, func(i int) (metav1.Object, error) {
		s := auditService(i * 10)
		current, err := cs.CoreV1().Services(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		current.Spec.Selector["tier"] = "db"
		return cs.CoreV1().Services(s.Namespace).Update(ctx, current, metav1.UpdateOptions{})
	})
	n := c.deployments/10 + c.statefulSets/10
	fmt.Printf("perf: audit --watch: made %d workloads violate a rule in %s\n", n, time.Since(start).Round(time.Millisecond))
	return n
}

// printHeapProfile prints the top of the watcher's heap profile.
func printHeapProfile(t *testing.T, p *process, dir string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", p.pprofPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	path := filepath.Join(dir, "heap.pprof")
	data, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-inuse_space", "-nodecount=25", path).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	fmt.Printf("perf: audit --watch: heap in use:\n%s\n", out)
}

// startAuditWatch starts `setwarden audit --watch` against kubeconfig.
func startAuditWatch(t *testing.T, bin, kubeconfig, dir string) *process {
	t.Helper()
	p := &process{name: "audit-watch"}
	freePorts(t, &p.probePort, &p.metricsPort, &p.pprofPort)
	cmd := exec.Command(bin, "audit", "--watch", "--kubeconfig", kubeconfig,
		"--leader-election-namespace", framework.Namespace,
		"--metrics-bind-address", "127.0.0.1:"+strconv.Itoa(p.metricsPort),
		"--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(p.probePort),
		"--pprof-bind-address", "127.0.0.1:"+strconv.Itoa(p.pprofPort), "--zap-log-level", "info")
	p.launch(t, cmd, filepath.Join(dir, "audit-watch.log"))
	return p
}
