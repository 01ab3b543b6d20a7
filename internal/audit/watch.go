package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// EventReason is the reason of the Warning Event a new finding raises.
const EventReason = "PolicyViolation"

// maxEventNote bounds an Event's note: events.k8s.io allows 1 kB.
const maxEventNote = 1000

// Watcher is the continuous audit: it judges every workload in the cache
// once, then again whenever it, its governing Service, the Nodes or the
// PolicyConfig change, and keeps one Report per workload with findings.
// It runs only on the elected leader, so two replicas never both write.
type Watcher struct {
	// Cache holds the workloads, Services, Nodes, Reports and the
	// PolicyConfig's ConfigMap, with the informers SetupWatcher requested.
	Cache crcache.Cache
	// Client writes the Reports.
	Client client.Client
	// Recorder emits the Events; nil emits none. It is a core/v1
	// recorder: events.k8s.io's merges every Event of one object and
	// reason into one series whatever its note, which would hide the
	// second rule an object violates; core/v1 Events with different
	// messages stay apart.
	Recorder record.EventRecorder
	// Metrics are the watch metrics.
	Metrics *WatchMetrics
	// Config says where the PolicyConfig comes from; a File is polled
	// every ConfigPollInterval.
	Config             ConfigSource
	ConfigPollInterval time.Duration
	// Workers is how many objects are judged at once.
	Workers int
	// NodesDebounce gathers a burst of Node changes into one re-judgement.
	NodesDebounce time.Duration

	view    policies.ClusterView
	engines atomic.Pointer[engines]
	queue   workqueue.TypedRateLimitingInterface[key]

	mu      sync.Mutex
	pending map[key]cause
	state   map[key]*objectState
	pass    *fullPass
	// nodesQueued is set while a Nodes re-judgement waits for its debounce.
	nodesQueued atomic.Bool
	// released is set once the first full pass has returned its garbage to
	// the operating system.
	released atomic.Bool
}

// engines are the engine of the PolicyConfig in force and its Nodes-only
// twin, which runs only the rules that read Nodes.
type engines struct {
	all, nodes *policies.Engine
	// raw is the PolicyConfig's text ("" for the built-in defaults), to
	// tell a real change from a resync.
	raw string
}

func newEngines(cfg *policies.Config, raw string) *engines {
	return &engines{all: policies.NewEngine(cfg), nodes: policies.NewEngine(nodesOnly(cfg)), raw: raw}
}

// nodeRules are the rules that read Nodes: the only ones a Node change can
// change the verdict of.
var nodeRules = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range policies.Rules {
		if r.Needs == policies.NeedsNodes {
			m[r.ID] = true
		}
	}
	return m
}()

// nodesOnly returns cfg with every rule that does not read Nodes Off.
func nodesOnly(cfg *policies.Config) *policies.Config {
	c := *cfg
	c.Rules = map[string]policies.RuleConfig{}
	for _, r := range policies.Rules {
		if nodeRules[r.ID] {
			if rc, ok := cfg.Rules[r.ID]; ok {
				c.Rules[r.ID] = rc
			}
			continue
		}
		c.Rules[r.ID] = policies.RuleConfig{Action: policies.ActionOff}
	}
	return &c
}

// key names a workload: its kind (an index into policies.Kinds()),
// namespace and name.
type key struct {
	kind            int
	namespace, name string
}

// cause is a set of reasons to judge an object again.
type cause uint8

const (
	causeNodes cause = 1 << iota
	causeService
	causeObject
	causeConfig
	causeStart
)

// label names the widest cause: anything but Nodes alone judges the whole
// object.
func (c cause) label() string {
	switch {
	case c&causeStart != 0:
		return CauseStart
	case c&causeConfig != 0:
		return CauseConfig
	case c&causeObject != 0:
		return CauseObject
	case c&causeService != 0:
		return CauseService
	}
	return CauseNodes
}

// objectState is what the leader knows of a judged workload.
type objectState struct {
	uid types.UID
	// results are the findings now, as its Report holds them.
	results []result
}

var kinds = policies.Kinds()

// NeedLeaderElection implements manager.LeaderElectionRunnable: only the
// leader judges and writes.
func (*Watcher) NeedLeaderElection() bool { return true }

// Start judges until ctx is done: a full pass, then every change.
func (w *Watcher) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("audit")
	ctx = logf.IntoContext(ctx, log)
	if !w.Cache.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	if err := w.loadConfig(ctx); err != nil {
		return err
	}
	w.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
		workqueue.TypedRateLimitingQueueConfig[key]{Name: "setwarden-audit"})
	w.pending, w.state = map[key]cause{}, map[key]*objectState{}
	if err := w.watch(ctx); err != nil {
		return err
	}
	if err := w.startPass(ctx, causeStart); err != nil {
		return err
	}
	if w.Config.File != "" {
		go w.pollConfigFile(ctx)
	}
	var wg sync.WaitGroup
	for range max(w.Workers, 1) {
		wg.Go(func() {
			for w.next(ctx) {
			}
		})
	}
	log.Info("Auditing the cluster continuously", "workers", max(w.Workers, 1), "events", w.Recorder != nil)
	<-ctx.Done()
	w.queue.ShutDown()
	wg.Wait()
	return nil
}

// enqueue asks for k to be judged for c.
func (w *Watcher) enqueue(k key, c cause) {
	w.mu.Lock()
	w.pending[k] |= c
	w.mu.Unlock()
	w.queue.Add(k)
}

// next judges one object; it returns false once the queue shuts down.
func (w *Watcher) next(ctx context.Context) bool {
	k, shutdown := w.queue.Get()
	if shutdown {
		return false
	}
	defer w.queue.Done(k)
	w.mu.Lock()
	c := w.pending[k]
	delete(w.pending, k)
	w.mu.Unlock()
	if err := w.judge(ctx, k, c); err != nil {
		if ctx.Err() == nil {
			logf.FromContext(ctx).Error(err, "Cannot judge, retrying", "kind", kinds[k.kind].Kind, "object", klog.KRef(k.namespace, k.name))
		}
		w.mu.Lock()
		w.pending[k] |= c
		w.mu.Unlock()
		w.queue.AddRateLimited(k)
		return true
	}
	w.queue.Forget(k)
	w.passDone(ctx, k)
	return true
}

// judge judges one object for c and brings its Report, Events and the
// findings gauge up to date.
func (w *Watcher) judge(ctx context.Context, k key, c cause) error {
	kind := kinds[k.kind]
	obj := kind.New().(client.Object)
	err := w.Cache.Get(ctx, client.ObjectKey{Namespace: k.namespace, Name: k.name}, obj)
	if apierrors.IsNotFound(err) {
		// The garbage collector deletes its Report with it.
		w.forget(k)
		return nil
	}
	if err != nil {
		return err
	}
	w.mu.Lock()
	st := w.state[k]
	w.mu.Unlock()
	if Controlled(obj) {
		return w.adopted(ctx, k, obj, st)
	}
	if st != nil && st.uid != obj.GetUID() {
		w.forget(k) // recreated: the old one's Report goes with the old one
		st = nil
	}
	prev, reported, err := w.reported(ctx, k, obj.GetUID(), st)
	if err != nil {
		return err
	}
	e := w.engines.Load()
	var next []result
	var judgeErr error
	if c == causeNodes && st != nil {
		// Only the rules that read Nodes can have changed their verdict.
		var findings []policies.Finding
		findings, judgeErr = w.evaluate(ctx, e.nodes, obj)
		next = slices.DeleteFunc(slices.Clone(st.results), func(r result) bool { return nodeRules[r.Rule] })
		next = append(next, resultsOf(findings, time.Now())...)
		slices.SortFunc(next, compareResults)
	} else {
		var findings []policies.Finding
		findings, judgeErr = w.evaluate(ctx, e.all, obj)
		next = resultsOf(findings, time.Now())
	}
	w.Metrics.Judged.WithLabelValues(c.label()).Inc()
	if judgeErr != nil {
		logf.FromContext(ctx).Error(judgeErr, "Cannot judge", "kind", kind.Kind, "object", klog.KObj(obj))
		return nil // a bug in a rule: judging again would panic again
	}
	keepSince(next, prev)
	ref := report.ObjectRef{APIVersion: kind.GroupVersion().String(), Kind: kind.Kind, Namespace: k.namespace, Name: k.name}
	if !sameResults(next, prev) || reported != (len(next) > 0) {
		if err := w.writeReport(ctx, ref, obj.GetUID(), next, reported); err != nil {
			return err
		}
	}
	w.emitEvents(obj, next, prev)
	w.remember(k, obj.GetUID(), st, next)
	return nil
}

// adopted handles an object whose controller is now a judged kind (a
// ReplicaSet a Deployment adopted): it is judged through its controller,
// so a Report it had as a workload of its own goes.
func (w *Watcher) adopted(ctx context.Context, k key, obj client.Object, st *objectState) error {
	if st == nil || st.uid == obj.GetUID() {
		_, reported, err := w.reported(ctx, k, obj.GetUID(), st)
		if err != nil {
			return err
		}
		if reported {
			kind := kinds[k.kind]
			ref := report.ObjectRef{APIVersion: kind.GroupVersion().String(), Kind: kind.Kind, Namespace: k.namespace, Name: k.name}
			if err := w.writeReport(ctx, ref, obj.GetUID(), nil, true); err != nil {
				return err
			}
		}
	}
	w.forget(k)
	return nil
}

// evaluate runs an engine on one object in admission mode, as the
// validating webhook judges its creation.
func (w *Watcher) evaluate(ctx context.Context, e *policies.Engine, obj client.Object) ([]policies.Finding, error) {
	r, err := evaluate(ctx, e, policies.Request{Object: obj, View: w.view, Mode: policies.ModeAdmission})
	if err != nil {
		return nil, err
	}
	return r.Findings, nil
}

// reported returns the results of the object's Report now and whether it
// has one: what this leader wrote, or, for an object it has not judged
// yet, the Report in the cache, which a previous leader may have written.
func (w *Watcher) reported(ctx context.Context, k key, uid types.UID, st *objectState) ([]result, bool, error) {
	if st != nil {
		return st.results, len(st.results) > 0, nil
	}
	rep := &reportsv1alpha1.Report{}
	err := w.Cache.Get(ctx, client.ObjectKey{Namespace: k.namespace, Name: reportName(uid)}, rep)
	switch {
	case apierrors.IsNotFound(err):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return resultsOfReport(rep), true, nil
}

// writeReport makes the object's Report hold results: created, updated,
// or deleted when there are none.
func (w *Watcher) writeReport(ctx context.Context, ref report.ObjectRef, uid types.UID, results []result, exists bool) error {
	rep := newReport(ref, uid, results)
	if len(results) == 0 {
		err := w.Client.Delete(ctx, rep)
		if err == nil {
			w.Metrics.ReportWrites.WithLabelValues("delete").Inc()
		}
		return client.IgnoreNotFound(err)
	}
	if !exists {
		err := w.Client.Create(ctx, rep)
		if err == nil {
			w.Metrics.ReportWrites.WithLabelValues("create").Inc()
		}
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	patch, err := json.Marshal(map[string]any{"summary": rep.Summary, "results": rep.Results})
	if err != nil {
		return err
	}
	err = w.Client.Patch(ctx, rep, client.RawPatch(types.MergePatchType, patch))
	if apierrors.IsNotFound(err) {
		rep = newReport(ref, uid, results)
		if err = w.Client.Create(ctx, rep); err == nil {
			w.Metrics.ReportWrites.WithLabelValues("create").Inc()
		}
		return err
	}
	if err == nil {
		w.Metrics.ReportWrites.WithLabelValues("update").Inc()
	}
	return err
}

// emitEvents raises one Warning Event per finding that next has and prev
// had not: a rule newly violated at a field. A finding that is only
// reworded raises none.
func (w *Watcher) emitEvents(obj client.Object, next, prev []result) {
	if w.Recorder == nil {
		return
	}
	for _, r := range next {
		if slices.ContainsFunc(prev, func(p result) bool { return p.Rule == r.Rule && p.Field == r.Field }) {
			continue
		}
		note := fmt.Sprintf("%s (%s): %s: %s", r.Rule, r.Action, r.Field, r.Fix)
		if len(note) > maxEventNote {
			note = note[:maxEventNote-3] + "..."
		}
		w.Recorder.Event(obj, corev1.EventTypeWarning, EventReason, note)
		w.Metrics.Events.Inc()
	}
}

// remember records the object's results and moves the findings gauge from
// its old results to the new ones.
func (w *Watcher) remember(k key, uid types.UID, old *objectState, results []result) {
	if old != nil {
		w.count(old.results, -1)
	}
	w.count(results, 1)
	w.mu.Lock()
	w.state[k] = &objectState{uid: uid, results: results}
	w.mu.Unlock()
}

// forget drops a workload that is gone, or no longer judged.
func (w *Watcher) forget(k key) {
	w.mu.Lock()
	st := w.state[k]
	delete(w.state, k)
	w.mu.Unlock()
	if st != nil {
		w.count(st.results, -1)
	}
}

func (w *Watcher) count(results []result, delta float64) {
	for _, r := range results {
		w.Metrics.Findings.WithLabelValues(r.Rule, string(r.Action)).Add(delta)
	}
}

// fullPass tracks a pass over every workload until each has been judged.
type fullPass struct {
	start   time.Time
	pending map[key]struct{}
}

// startPass judges every workload for c.
func (w *Watcher) startPass(ctx context.Context, c cause) error {
	keys, err := w.keys(ctx)
	if err != nil {
		return err
	}
	p := &fullPass{start: time.Now(), pending: make(map[key]struct{}, len(keys))}
	for _, k := range keys {
		p.pending[k] = struct{}{}
	}
	w.mu.Lock()
	w.pass = p
	w.mu.Unlock()
	logf.FromContext(ctx).Info("Judging every workload", "cause", c.label(), "objects", len(keys))
	for _, k := range keys {
		w.enqueue(k, c)
	}
	if len(keys) == 0 {
		w.passDone(ctx, key{kind: -1})
	}
	return nil
}

// passDone notes that k was judged, and ends the pass with the last one.
func (w *Watcher) passDone(ctx context.Context, k key) {
	w.mu.Lock()
	p := w.pass
	if p == nil {
		w.mu.Unlock()
		return
	}
	delete(p.pending, k)
	done := len(p.pending) == 0
	if done {
		w.pass = nil
	}
	w.mu.Unlock()
	if done {
		d := time.Since(p.start)
		w.Metrics.PassSeconds.Set(d.Seconds())
		w.Metrics.Passes.Inc()
		logf.FromContext(ctx).Info("Judged every workload", "duration", d.Round(time.Millisecond).String())
		if !w.released.Swap(true) {
			// The first pass leaves the garbage of the informers' initial
			// lists and of a Report and Event per violating workload; the
			// process would keep those pages until the scavenger's slow pace.
			debug.FreeOSMemory()
		}
	}
}

// keys lists the workloads in the cache that are judged: every object of
// the judged kinds but the Controlled ones.
func (w *Watcher) keys(ctx context.Context) ([]key, error) {
	var keys []key
	for i, kind := range kinds {
		list, err := w.Client.Scheme().New(kind.GroupVersion().WithKind(kind.Kind + "List"))
		if err != nil {
			return nil, err
		}
		if err := w.Cache.List(ctx, list.(client.ObjectList), client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing %s from the cache: %w", kindResource(kind), err)
		}
		if err := meta.EachListItem(list, func(o runtime.Object) error {
			m, err := meta.Accessor(o)
			if err == nil && !Controlled(m) {
				keys = append(keys, key{kind: i, namespace: m.GetNamespace(), name: m.GetName()})
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
