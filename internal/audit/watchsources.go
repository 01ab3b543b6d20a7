package audit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/setwarden/setwarden/policies"
	"github.com/setwarden/setwarden/webhook"
)

// serviceNameIndex indexes StatefulSets by the governing Service they
// name, so that a Service change re-judges only those.
const serviceNameIndex = "spec.serviceName"

// configKey is the ConfigMap key holding the PolicyConfig, as the chart
// writes it and check --config-from-cluster reads it.
const configKey = "config.yaml"

// CacheOptions are the cache options of watch mode: the judged kinds
// stripped by StripWorkload, Services and Nodes by webhook.StripForView,
// only setwarden's Reports, and only the PolicyConfig's ConfigMap (none
// when it comes from a file). namespace limits the workloads, Services and
// Reports to one namespace; "" watches all.
func CacheOptions(src ConfigSource, namespace string) crcache.Options {
	byObject := map[client.Object]crcache.ByObject{
		&corev1.Service{}: {Transform: webhook.StripForView},
		&corev1.Node{}:    {Transform: webhook.StripForView},
		&reportsv1alpha1.Report{}: {Label: labels.SelectorFromSet(labels.Set{ManagedByLabel: ReportSource}),
			Transform: crcache.TransformStripManagedFields()},
	}
	for _, k := range kinds {
		byObject[k.New().(client.Object)] = crcache.ByObject{Transform: StripWorkload}
	}
	if src.File == "" {
		byObject[&corev1.ConfigMap{}] = crcache.ByObject{
			Namespaces: map[string]crcache.Config{src.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", src.ConfigMap),
		}
	}
	opts := crcache.Options{DefaultTransform: crcache.TransformStripManagedFields(), ByObject: byObject}
	if namespace != "" {
		opts.DefaultNamespaces = map[string]crcache.Config{namespace: {}}
	}
	return opts
}

// SetupWatcher indexes StatefulSets by Service, requests every informer the
// watcher reads, so that they start and sync on every replica (a new leader
// starts with warm caches), and adds the watcher to mgr.
func SetupWatcher(ctx context.Context, mgr manager.Manager, w *Watcher) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &appsv1.StatefulSet{}, serviceNameIndex, func(o client.Object) []string {
		return []string{o.(*appsv1.StatefulSet).Spec.ServiceName}
	}); err != nil {
		return fmt.Errorf("indexing StatefulSets by Service: %w", err)
	}
	objs := []client.Object{&corev1.Service{}, &corev1.Node{}, &reportsv1alpha1.Report{}}
	if w.Config.File == "" {
		objs = append(objs, &corev1.ConfigMap{})
	}
	for _, k := range kinds {
		objs = append(objs, k.New().(client.Object))
	}
	view := &webhook.CacheView{Cache: mgr.GetCache()}
	for _, obj := range objs {
		informer, err := mgr.GetCache().GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("starting the informer of %T: %w", obj, err)
		}
		if _, ok := obj.(*corev1.Node); ok {
			if err := view.WatchNodes(informer); err != nil {
				return err
			}
		}
	}
	w.Cache, w.Client, w.view = mgr.GetCache(), mgr.GetClient(), view
	return mgr.Add(w)
}

// watch registers the event handlers that ask for objects to be judged
// again. The informers' initial lists are left to the first full pass.
func (w *Watcher) watch(ctx context.Context) error {
	for i, kind := range kinds {
		if err := w.handle(ctx, kind.New().(client.Object), workloadHandler{w: w, kind: i}); err != nil {
			return err
		}
	}
	handlers := map[client.Object]toolscache.ResourceEventHandler{
		&corev1.Service{}: changes(func(o, n *corev1.Service) bool { return !equality.Semantic.DeepEqual(o.Spec, n.Spec) },
			func(s *corev1.Service) { w.serviceChanged(ctx, s) }),
		&corev1.Node{}: changes(func(o, n *corev1.Node) bool {
			return !maps.Equal(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.Spec, n.Spec)
		}, func(*corev1.Node) { w.nodesChanged() }),
	}
	if w.Config.File == "" {
		handlers[&corev1.ConfigMap{}] = changes(func(o, n *corev1.ConfigMap) bool { return o.Data[configKey] != n.Data[configKey] },
			func(*corev1.ConfigMap) { w.configMapChanged(ctx) })
	}
	for obj, h := range handlers {
		if err := w.handle(ctx, obj, h); err != nil {
			return err
		}
	}
	return nil
}

func (w *Watcher) handle(ctx context.Context, obj client.Object, h toolscache.ResourceEventHandler) error {
	informer, err := w.Cache.GetInformer(ctx, obj)
	if err == nil {
		_, err = informer.AddEventHandler(h)
	}
	if err != nil {
		return fmt.Errorf("watching %T: %w", obj, err)
	}
	return nil
}

// changes is a handler calling fn with the object of every add and delete
// after the initial list, and of every update that changed says changed.
func changes[T any](changed func(old, new T) bool, fn func(T)) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if o, ok := obj.(T); ok && !initial {
				fn(o)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(T)
			n, ok2 := newObj.(T)
			if ok1 && ok2 && changed(o, n) {
				fn(n)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if o, ok := obj.(T); ok {
				fn(o)
			}
		},
	}
}

// workloadHandler asks for a workload to be judged again when it is
// created, deleted, or changed in what the rules read.
type workloadHandler struct {
	w    *Watcher
	kind int
}

func (h workloadHandler) enqueue(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if m, ok := obj.(metav1.Object); ok {
		h.w.enqueue(key{kind: h.kind, namespace: m.GetNamespace(), name: m.GetName()}, causeObject)
	}
}

// OnAdd implements toolscache.ResourceEventHandler.
func (h workloadHandler) OnAdd(obj any, initial bool) {
	if !initial {
		h.enqueue(obj)
	}
}

// OnUpdate implements toolscache.ResourceEventHandler. Status updates,
// which controllers make all the time, change nothing the rules read: the
// transform drops status, so only the resource version differs.
func (h workloadHandler) OnUpdate(oldObj, newObj any) {
	o, ok1 := oldObj.(metav1.Object)
	n, ok2 := newObj.(metav1.Object)
	if !ok1 || !ok2 || o.GetResourceVersion() == n.GetResourceVersion() {
		return
	}
	if o.GetGeneration() != n.GetGeneration() || o.GetUID() != n.GetUID() ||
		!maps.Equal(o.GetLabels(), n.GetLabels()) || !maps.Equal(o.GetAnnotations(), n.GetAnnotations()) ||
		!equality.Semantic.DeepEqual(o.GetOwnerReferences(), n.GetOwnerReferences()) || podSpecChanged(oldObj, newObj) {
		h.enqueue(newObj)
	}
}

// podSpecChanged compares Pod specs: a Pod's generation is not bumped by
// every API server version.
func podSpecChanged(oldObj, newObj any) bool {
	o, ok1 := oldObj.(*corev1.Pod)
	n, ok2 := newObj.(*corev1.Pod)
	return ok1 && ok2 && !equality.Semantic.DeepEqual(o.Spec, n.Spec)
}

// OnDelete implements toolscache.ResourceEventHandler.
func (h workloadHandler) OnDelete(obj any) { h.enqueue(obj) }

// serviceChanged re-judges the StatefulSets that name svc as their
// governing Service, and no other object.
func (w *Watcher) serviceChanged(ctx context.Context, svc *corev1.Service) {
	list := &appsv1.StatefulSetList{}
	if err := w.Cache.List(ctx, list, client.InNamespace(svc.Namespace),
		client.MatchingFields{serviceNameIndex: svc.Name}, client.UnsafeDisableDeepCopy); err != nil {
		logf.FromContext(ctx).Error(err, "Cannot find the StatefulSets of a Service", "service", svc.Namespace+"/"+svc.Name)
		return
	}
	for _, s := range list.Items {
		if !Controlled(&s) {
			w.enqueue(key{kind: statefulSetKind, namespace: s.Namespace, name: s.Name}, causeService)
		}
	}
}

var statefulSetKind = func() int {
	for i, k := range kinds {
		if k.Kind == "StatefulSet" {
			return i
		}
	}
	panic("StatefulSet is not a judged kind")
}()

// nodesChanged re-judges, once the burst of Node changes has settled,
// every workload with the rules that read Nodes only.
func (w *Watcher) nodesChanged() {
	if !w.nodesQueued.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(w.NodesDebounce, func() {
		w.nodesQueued.Store(false)
		keys, err := w.keys(context.Background())
		if err != nil {
			return
		}
		for _, k := range keys {
			w.enqueue(k, causeNodes)
		}
	})
}

// loadConfig loads the PolicyConfig at start: from the file, else from the
// ConfigMap in the cache, else (when the ConfigMap does not exist and
// FromCluster is not set) the built-in defaults.
func (w *Watcher) loadConfig(ctx context.Context) error {
	if w.Config.File != "" {
		data, err := os.ReadFile(w.Config.File)
		if err != nil {
			return fmt.Errorf("reading the PolicyConfig: %w", err)
		}
		cfg, err := policies.ParseConfig(data)
		if err != nil {
			return fmt.Errorf("%s: %w", w.Config.File, err)
		}
		w.engines.Store(newEngines(cfg, string(data)))
		return nil
	}
	cfg, raw, err := w.configFromCache(ctx)
	if err != nil {
		return err
	}
	w.engines.Store(newEngines(cfg, raw))
	return nil
}

// errNoConfigKey is a ConfigMap without the PolicyConfig's key.
var errNoConfigKey = errors.New("no " + configKey + " key")

// configFromCache reads the PolicyConfig from the cached ConfigMap.
func (w *Watcher) configFromCache(ctx context.Context) (*policies.Config, string, error) {
	cm := &corev1.ConfigMap{}
	err := w.Cache.Get(ctx, client.ObjectKey{Namespace: w.Config.Namespace, Name: w.Config.ConfigMap}, cm)
	switch {
	case apierrors.IsNotFound(err) && !w.Config.FromCluster:
		return policies.DefaultConfig(), "", nil
	case err != nil:
		return nil, "", fmt.Errorf("reading the installed PolicyConfig (ConfigMap %s/%s): %w", w.Config.Namespace, w.Config.ConfigMap, err)
	}
	data, ok := cm.Data[configKey]
	if !ok {
		return nil, "", fmt.Errorf("ConfigMap %s/%s: %w", w.Config.Namespace, w.Config.ConfigMap, errNoConfigKey)
	}
	cfg, err := policies.ParseConfig([]byte(data))
	if err != nil {
		return nil, "", fmt.Errorf("ConfigMap %s/%s: %w", w.Config.Namespace, w.Config.ConfigMap, err)
	}
	return cfg, data, nil
}

// configMapChanged installs the ConfigMap's new PolicyConfig and judges
// everything again; an invalid one leaves the config in force.
func (w *Watcher) configMapChanged(ctx context.Context) {
	cfg, raw, err := w.configFromCache(ctx)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Rejected the new PolicyConfig; keeping the last good config in force")
		w.Metrics.ConfigReloads.WithLabelValues("error").Inc()
		return
	}
	w.setConfig(ctx, cfg, raw)
}

// setConfig installs cfg, unless it is the config in force, and judges
// every workload again, once.
func (w *Watcher) setConfig(ctx context.Context, cfg *policies.Config, raw string) {
	if old := w.engines.Load(); old != nil && old.raw == raw {
		return
	}
	w.engines.Store(newEngines(cfg, raw))
	w.Metrics.ConfigReloads.WithLabelValues("success").Inc()
	logf.FromContext(ctx).Info("Reloaded the PolicyConfig")
	if err := w.startPass(ctx, causeConfig); err != nil {
		logf.FromContext(ctx).Error(err, "Cannot judge every workload again")
	}
}

// pollConfigFile reloads the PolicyConfig file when its content changes.
// It polls, as the webhook does, because a mounted ConfigMap changes by
// swapping a symlink, which file watches miss.
func (w *Watcher) pollConfigFile(ctx context.Context) {
	interval := w.ConfigPollInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	seen := w.engines.Load().raw
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		data, err := os.ReadFile(w.Config.File)
		if err != nil || string(data) == seen {
			continue
		}
		seen = string(data)
		cfg, err := policies.ParseConfig(data)
		if err != nil {
			logf.FromContext(ctx).Error(err, "Rejected the new PolicyConfig; keeping the last good config in force", "path", w.Config.File)
			w.Metrics.ConfigReloads.WithLabelValues("error").Inc()
			continue
		}
		w.setConfig(ctx, cfg, string(data))
	}
}
