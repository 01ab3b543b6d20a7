package perf

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

// apiArm is one way of enforcing the policies through kube-apiserver.
type apiArm struct {
	name string
	// objects are created to install the arm and deleted to remove it.
	objects []client.Object
	// denial is a part of the broken StatefulSet's denial that names the
	// arm ("" when the arm admits it); tolerations is how many tolerations
	// the API server returns on a bare agent DaemonSet.
	denial      string
	tolerations int
	// all, sts and ds collect the create latencies of every round.
	all, sts, ds *recorder
	errs         *firstError
	elapsed      time.Duration
	// pid is the policy engine's process (0 when the engine, if any, runs
	// inside kube-apiserver); ready is its time from start to ready.
	pid   int
	ready time.Duration
	// bin is the engine's binary, whose size shows in its resident memory.
	bin string
	// cpu and apiCPU are the engine's and kube-apiserver's CPU time over
	// the measured windows; idleRSS and afterRSS the engine's resident
	// memory before the first round and after the last.
	cpu, apiCPU       time.Duration
	idleRSS, afterRSS memoryFigures
}

// firstError keeps the first error of many goroutines.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) note(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// TestAPIServerAdmission measures creates through kube-apiserver (3 in the
// performance table): StatefulSets and agent DaemonSets created at a fixed rate
// through kube-apiserver with no admission, with setwarden's webhooks (the
// chart's configurations, served by the shipped binary in its own process), and
// with the native policies `setwarden export` writes for the default
// PolicyConfig (ValidatingAdmissionPolicies, MutatingAdmissionPolicy). The arms take turns in rounds, so a change in the
// machine's load hits them alike, and never overlap: each is removed, and the
// API server seen to stop applying it, before the next is installed. It prints
// figures and asserts no timings; it runs with SETWARDEN_PERF=1 (make bench).
func TestAPIServerAdmission(t *testing.T) {
	env := startPerfEnv(t)
	ctx := t.Context()
	// setwarden runs as in production: the shipped build, in its own
	// process, at the default log level.
	dir := t.TempDir()
	bin := buildShipped(t, dir)
	_, caPEM := writeServingCert(t, dir)
	server := startServer(t, bin, env.Kubeconfig, dir, "webhook")
	defer server.stop()
	up := server.waitReady(t)
	// The peer engines start one at a time, so none slows another's start.
	var engines []*peerProcess
	for _, pe := range availablePeers() {
		p := pe.start(t, env)
		p.installPolicies(t, env)
		engines = append(engines, p)
	}
	arms := apiArms(t, server.port, caPEM, engines)
	for _, a := range arms {
		if a.name == "setwarden" {
			a.pid, a.ready, a.bin = server.cmd.Process.Pid, up.ready, bin
		}
	}
	cs := loadClient(t, env.Config)
	for _, a := range arms {
		if err := createNamespaceWithService(ctx, env.Client, armNamespace(a)); err != nil {
			t.Fatal(err)
		}
	}
	// Every arm must decide as setwarden does before any figure is taken.
	checkVerdicts(t, env, cs, arms)
	time.Sleep(settle)
	readRSS(t, arms, func(a *apiArm, m memoryFigures) { a.idleRSS = m })
	host, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	apiPID := apiServerPID(host.Port())
	if apiPID == 0 {
		t.Fatalf("no kube-apiserver process serving %s", env.Config.Host)
	}
	rate := envInt("SETWARDEN_PERF_API_RATE", 50)
	// 3,000 creates an arm: a p99 of 1,000 moved several-fold between runs.
	rounds := envInt("SETWARDEN_PERF_API_ROUNDS", 6)
	perArm := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("SETWARDEN_PERF_API_DURATION")); err == nil {
		perArm = d
	}
	each := perArm / time.Duration(rounds)
	fmt.Printf("perf: api server: %d rounds of %s per arm at %d creates/s (half StatefulSets, half agent DaemonSets)\n", rounds, each, rate)
	for round := range rounds {
		for _, a := range arms {
			runArm(t, env, cs, a, apiPID, round, rate, each)
		}
	}
	readRSS(t, arms, func(a *apiArm, m memoryFigures) { a.afterRSS = m })
	reportArms(t, arms)
	reportEngines(t, arms)
	reportWebhookTime(t, server)
}

// readRSS reads the resident memory of every arm's engine process.
func readRSS(t *testing.T, arms []*apiArm, set func(*apiArm, memoryFigures)) {
	t.Helper()
	for _, a := range arms {
		if a.pid == 0 {
			continue
		}
		m, err := procMemory(a.pid)
		if err != nil {
			t.Fatalf("arm %s: %v", a.name, err)
		}
		set(a, m)
	}
}

// reportWebhookTime prints the mean time setwarden itself took per call
// (from reading the request to writing the answer, controller-runtime's
// webhook latency histogram), to tell its share of the added latency from
// the API server's: encoding the review, the HTTPS call, applying a patch.
func reportWebhookTime(t *testing.T, server *process) {
	t.Helper()
	for _, path := range []string{"/mutate", "/validate"} {
		label := `webhook="` + path + `"`
		sum := server.metric(t, "controller_runtime_webhook_latency_seconds_sum", label)
		count := server.metric(t, "controller_runtime_webhook_latency_seconds_count", label)
		if count == 0 {
			t.Errorf("no %s calls counted by the webhook", path)
			continue
		}
		emit(t, Record{Target: 3, Figure: "setwarden's own time per " + path + " call (mean)", Value: 1000 * sum / count, Unit: "ms",
			Note: fmt.Sprintf("%.0f calls, all arms' rounds included", count)})
	}
}

// apiArms returns the arms: no admission, setwarden, the native policies,
// and a peer arm per running peer engine. The setwarden arm's webhook
// configurations are the chart's, pointed at the server on port; the peers'
// have the same scope.
func apiArms(t *testing.T, port int, caPEM []byte, engines []*peerProcess) []*apiArm {
	t.Helper()
	mutating, validating, err := framework.LoadWebhookConfigurations()
	if err != nil {
		t.Fatal(err)
	}
	point := func(cc *admissionregistrationv1.WebhookClientConfig) {
		url := fmt.Sprintf("https://localhost:%d%s", port, *cc.Service.Path)
		cc.URL, cc.Service, cc.CABundle = &url, nil, caPEM
	}
	var hooks []client.Object
	for _, m := range mutating {
		for i := range m.Webhooks {
			point(&m.Webhooks[i].ClientConfig)
		}
		hooks = append(hooks, m)
	}
	for _, v := range validating {
		for i := range v.Webhooks {
			point(&v.Webhooks[i].ClientConfig)
		}
		hooks = append(hooks, v)
	}
	newArm := func(name, denial string, tolerations int, objs []client.Object) *apiArm {
		return &apiArm{name: name, objects: objs, denial: denial, tolerations: tolerations, all: &recorder{}, sts: &recorder{}, ds: &recorder{}, errs: &firstError{}}
	}
	arms := []*apiArm{
		newArm("none", "", 0, nil),
		newArm("setwarden", `admission webhook "validate.setwarden.dev" denied`, 2, hooks),
		newArm("native", nativeValidatingName, 2, nativePolicies(t)),
	}
	for _, p := range engines {
		a := newArm(p.name, p.denial(), 2, p.webhooks(t))
		a.pid, a.ready, a.bin = p.cmd.Process.Pid, p.ready, p.bin
		arms = append(arms, a)
	}
	return arms
}

// runArm installs the arm, checks that the API server applies it, sends a
// second of warm-up load, measures (latencies, and the CPU time of the
// engine and of kube-apiserver, process apiPID), then removes the arm and
// waits until the API server no longer applies it.
func runArm(t *testing.T, env *framework.Env, cs *kubernetes.Clientset, a *apiArm, apiPID, round, rate int, d time.Duration) {
	t.Helper()
	ctx := t.Context()
	waited := installArm(t, env, cs, a)
	fmt.Printf("perf: api server: round %d: arm %s in effect after %s\n", round+1, a.name, waited.Round(time.Millisecond))
	ns := armNamespace(a)
	openLoopCreates(ctx, cs, ns, a.tolerations, rate, time.Second, &apiArm{all: &recorder{}, sts: &recorder{}, ds: &recorder{}, errs: &firstError{}})
	cpu0, api0 := mustCPU(t, a.pid), mustCPU(t, apiPID)
	start := time.Now()
	this := &apiArm{all: &recorder{}, sts: &recorder{}, ds: &recorder{}, errs: a.errs}
	openLoopCreates(ctx, cs, ns, a.tolerations, rate, d, this)
	elapsed := time.Since(start)
	a.cpu += mustCPU(t, a.pid) - cpu0
	a.apiCPU += mustCPU(t, apiPID) - api0
	a.elapsed += elapsed
	fmt.Printf("perf: api server: round %d: arm %-10s %s\n", round+1, a.name, this.all.result(elapsed))
	merge(a.all, this.all)
	merge(a.sts, this.sts)
	merge(a.ds, this.ds)
	if len(a.objects) > 0 {
		waited := removeArm(t, env, cs, a)
		fmt.Printf("perf: api server: round %d: arm %s gone after %s\n", round+1, a.name, waited.Round(time.Millisecond))
	}
}

// installArm creates the arm's objects and waits until the API server
// applies them.
func installArm(t *testing.T, env *framework.Env, cs *kubernetes.Clientset, a *apiArm) time.Duration {
	t.Helper()
	for _, obj := range a.objects {
		obj := fresh(obj)
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Fatalf("%s: creating %T %s: %v", a.name, obj, obj.GetName(), err)
		}
	}
	return waitForArm(t, cs, armNamespace(a), a.denial, a.tolerations)
}

// removeArm deletes the arm's objects and waits until the API server no
// longer applies them.
func removeArm(t *testing.T, env *framework.Env, cs *kubernetes.Clientset, a *apiArm) time.Duration {
	t.Helper()
	for _, obj := range a.objects {
		if err := env.Client.Delete(t.Context(), fresh(obj)); err != nil {
			t.Fatalf("%s: deleting %T %s: %v", a.name, obj, obj.GetName(), err)
		}
	}
	return waitForArm(t, cs, armNamespace(a), "", 0)
}

// mustCPU is process pid's CPU time so far; 0 for pid 0.
func mustCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	if pid == 0 {
		return 0
	}
	d, err := cpuTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// validStatefulSet is the mix's valid StatefulSet with claims the API
// server accepts.
func validStatefulSet() *appsv1.StatefulSet {
	sts := statefulSet(MixService)
	sts.Spec.VolumeClaimTemplates[0].Spec = corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}
	return sts
}

// merge adds src's figures to dst.
func merge(dst, src *recorder) {
	src.mu.Lock()
	defer src.mu.Unlock()
	dst.mu.Lock()
	defer dst.mu.Unlock()
	dst.latencies = append(dst.latencies, src.latencies...)
	dst.sent.Add(src.sent.Load())
	dst.failed.Add(src.failed.Load())
}

func armNamespace(a *apiArm) string { return "perf-api-" + a.name }

// fresh returns a copy of obj that can be created again.
func fresh(obj client.Object) client.Object {
	c := obj.DeepCopyObject().(client.Object)
	c.SetResourceVersion("")
	c.SetUID("")
	c.SetCreationTimestamp(metav1.Time{})
	c.SetManagedFields(nil)
	c.SetGeneration(0)
	return c
}

// waitForArm waits until a dry-run broken StatefulSet is denied with a
// message containing denial (admitted when denial is "") and a dry-run bare
// agent DaemonSet comes back with the given number of tolerations: the API
// server's informers have then caught up with the arm's objects.
func waitForArm(t *testing.T, cs *kubernetes.Clientset, ns, denial string, tolerations int) time.Duration {
	t.Helper()
	start := time.Now()
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	last := ""
	for time.Since(start) < 60*time.Second {
		broken := statefulSet("")
		broken.Namespace = ns
		// Without claims the mount would be invalid, and the API server's
		// own validation runs before validating admission.
		broken.Spec.Template.Spec.Containers[0].VolumeMounts = nil
		_, stsErr := cs.AppsV1().StatefulSets(ns).Create(t.Context(), broken, dryRun)
		ds := daemonSet(false)
		ds.Namespace = ns
		got, dsErr := cs.AppsV1().DaemonSets(ns).Create(t.Context(), ds, dryRun)
		stsOK := (denial == "" && stsErr == nil) || (denial != "" && stsErr != nil && strings.Contains(stsErr.Error(), denial))
		dsOK := dsErr == nil && len(got.Spec.Template.Spec.Tolerations) == tolerations
		if stsOK && dsOK {
			return time.Since(start)
		}
		last = fmt.Sprintf("StatefulSet: %v; DaemonSet: %v", stsErr, dsErr)
		if dsErr == nil {
			last += fmt.Sprintf(" with %d tolerations", len(got.Spec.Template.Spec.Tolerations))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("namespace %s: the API server did not apply the arm (denial %q, %d tolerations) within 60s; last: %s", ns, denial, tolerations, last)
	return 0
}

// openLoopCreates creates StatefulSets and agent DaemonSets, alternately, at
// rate per second for d, each on its own schedule whatever the previous
// answers (open loop), and records each latency from its scheduled time.
// A create fails if it is refused or a DaemonSet does not come back with
// tolerations tolerations. The figures go to into's recorders.
func openLoopCreates(ctx context.Context, cs *kubernetes.Clientset, ns string, tolerations, rate int, d time.Duration, into *apiArm) {
	runtime.LockOSThread() // sleepUntil keeps the schedule on this thread
	defer runtime.UnlockOSThread()
	interval := time.Second / time.Duration(rate)
	n := int(d / interval)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if !sleepUntil(ctx, due) {
			break
		}
		wg.Go(func() {
			var err error
			rec := into.sts
			if i%2 == 0 {
				obj := validStatefulSet()
				obj.Namespace, obj.Name, obj.GenerateName = ns, "", "db-"
				_, err = cs.AppsV1().StatefulSets(ns).Create(ctx, obj, metav1.CreateOptions{})
			} else {
				rec = into.ds
				obj := daemonSet(false)
				obj.Namespace, obj.Name, obj.GenerateName = ns, "", "agent-"
				var got *appsv1.DaemonSet
				got, err = cs.AppsV1().DaemonSets(ns).Create(ctx, obj, metav1.CreateOptions{})
				if err == nil && len(got.Spec.Template.Spec.Tolerations) != tolerations {
					err = fmt.Errorf("DaemonSet %s has %d tolerations, want %d", got.Name, len(got.Spec.Template.Spec.Tolerations), tolerations)
				}
			}
			lat := time.Since(due)
			into.all.add(lat, err)
			rec.add(lat, err)
			if err != nil {
				into.errs.note(err)
			}
		})
	}
	wg.Wait()
}

// reportArms emits each arm's create latencies and the latency each arm
// adds over no admission (arms[0]).
func reportArms(t *testing.T, arms []*apiArm) {
	t.Helper()
	p99, p50 := map[string]float64{}, map[string]float64{}
	for _, a := range arms {
		res := a.all.result(a.elapsed)
		fmt.Printf("perf: api server arm %-10s all:         %s\n", a.name, res)
		fmt.Printf("perf: api server arm %-10s StatefulSet: %s\n", a.name, a.sts.result(a.elapsed))
		fmt.Printf("perf: api server arm %-10s DaemonSet:   %s\n", a.name, a.ds.result(a.elapsed))
		if err := a.errs.get(); err != nil {
			t.Errorf("arm %s: %d creates failed; first: %v", a.name, res.Failed, err)
		}
		p99[a.name], p50[a.name] = ms(res.Percentile(99)), ms(res.Percentile(50))
		emit(t, Record{Target: 3, Figure: "create p99, " + a.name, Value: p99[a.name], Unit: "ms",
			Note: fmt.Sprintf("p50 %.2f p90 %.2f max %.2f ms, %d creates at %.0f/s", ms(res.Percentile(50)), ms(res.Percentile(90)),
				ms(res.Max()), res.Sent, res.Throughput())})
	}
	// Each arm's added latency, with a 95 % interval: the medians move less
	// with the machine's load than the tails do.
	none := arms[0]
	for _, a := range arms[1:] {
		for _, q := range []float64{99, 50} {
			v, lo, hi := addedPercentile(a, none, q)
			limit := 0.0
			if a.name == "setwarden" && q == 99 {
				limit = 1
			}
			emit(t, Record{Target: 3, Figure: fmt.Sprintf("%s added p%.0f over no admission", armLabel(a.name), q), Value: v, Unit: "ms",
				Limit: limit, Note: fmt.Sprintf("95%% interval %.2f to %.2f ms", lo, hi)})
		}
	}
	sw, native := p99["setwarden"]-p99["none"], p99["native"]-p99["none"]
	if native <= 0 {
		emit(t, Record{Target: 3, Figure: "setwarden/native added p99", Unit: "×",
			Note: "undefined: the native policies added nothing measurable over no admission"})
		return
	}
	emit(t, Record{Target: 3, Figure: "setwarden/native added p99", Value: sw / native, Unit: "×", Limit: 3})
}
