package webhook

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/policies"
)

// CacheView backs the engine's ClusterView with the manager's cache. A
// Service missing from the cache may have been created a moment ago, so a
// miss is decided by one live GET through the API reader.
type CacheView struct {
	// Cache reads Services and Nodes from the informer cache.
	Cache client.Reader
	// APIReader reads directly from the API server on a cache miss.
	APIReader client.Reader

	nodes  nodeSnapshot
	absent absentServices
}

const (
	// absentFor is how long the API server's word that a Service does not
	// exist is taken without asking again. A Service created since is
	// found in the cache as soon as the informer sees it (the cache is
	// read first); only a request in that informer lag gets the older
	// answer, a warning rather than a pass.
	absentFor = time.Second
	// maxAbsent bounds the Services remembered as absent.
	maxAbsent = 4096
	// liveGetTimeout bounds a live GET: when the API server is slow, the
	// rules that need the Service are skipped (and say so) rather than the
	// review waiting for the API server's webhook timeout.
	liveGetTimeout = 2 * time.Second
)

// absentServices keeps a StatefulSet storm naming a missing Service (a
// controller retrying, a chart installed before its Service) from becoming
// a storm of live GETs queued behind the client's rate limiter: concurrent
// lookups of one Service share one GET, and its "not found" is remembered
// for absentFor. Under load without this, reviews waited for the limiter
// until the API server's timeout and the webhook's heap grew to 230 MiB.
type absentServices struct {
	lookups singleflight.Group
	// absent holds the Services the API server said do not exist, each for
	// absentFor, at most maxAbsent of them (least recently used go first).
	absent *cache.LRUExpireCache
	once   sync.Once
	// clock and timeout are the real clock and liveGetTimeout, but for
	// tests.
	clock   cache.Clock
	timeout time.Duration
}

// nodeSnapshot is the list of cached Nodes, kept between requests while no
// Node has changed. Listing the cache copies every Node into a new list: in
// a cluster of 1,000 Nodes that is most of a decision's cost and most of its
// garbage, on every request of a workload with placement rules.
type nodeSnapshot struct {
	// watched is set once a Node informer bumps gen on every event;
	// without it every request lists.
	watched atomic.Bool
	gen     atomic.Uint64
	last    atomic.Pointer[nodesAt]
}

// nodesAt is a list of Nodes and the generation it was listed at.
type nodesAt struct {
	gen   uint64
	nodes []*corev1.Node
}

func (s *nodeSnapshot) changed() { s.gen.Add(1) }

// WatchNodes keeps the Node list between requests, and lists again after
// the informer reports any change to a Node.
func (v *CacheView) WatchNodes(informer crcache.Informer) error {
	changed := v.nodes.changed
	_, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { changed() },
		UpdateFunc: func(any, any) { changed() },
		DeleteFunc: func(any) { changed() },
	})
	if err != nil {
		return fmt.Errorf("watching Nodes: %w", err)
	}
	v.nodes.watched.Store(true)
	return nil
}

var _ policies.ClusterView = (*CacheView)(nil)

// Service implements policies.ClusterView: from the cache, or, when the
// cache does not have it, from the API server.
func (v *CacheView) Service(ctx context.Context, namespace, name string) (*corev1.Service, bool, error) {
	svc := &corev1.Service{}
	key := client.ObjectKey{Namespace: namespace, Name: name}
	err := v.Cache.Get(ctx, key, svc)
	if apierrors.IsNotFound(err) && v.APIReader != nil {
		svc, err = v.absent.get(ctx, v.APIReader, key)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading Service %s/%s: %w", namespace, name, err)
	}
	return svc, true, nil
}

// get reads a Service the cache does not have from the API server, unless
// it said recently that the Service does not exist; concurrent calls for
// one Service share one GET, made with no caller's cancellation.
func (a *absentServices) get(ctx context.Context, reader client.Reader, key client.ObjectKey) (*corev1.Service, error) {
	a.once.Do(func() {
		if a.clock == nil {
			a.clock, a.timeout = clock.RealClock{}, liveGetTimeout
		}
		a.absent = cache.NewLRUExpireCacheWithClock(maxAbsent, a.clock)
	})
	if _, absent := a.absent.Get(key); absent {
		return nil, apierrors.NewNotFound(corev1.Resource("services"), key.Name)
	}
	res, err, _ := a.lookups.Do(key.String(), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
		defer cancel()
		svc := &corev1.Service{}
		err := reader.Get(ctx, key, svc)
		if apierrors.IsNotFound(err) {
			a.absent.Add(key, struct{}{}, absentFor)
		}
		return svc, err
	})
	if err != nil {
		return nil, err
	}
	// Callers sharing a GET share its Service: hand each its own copy.
	return res.(*corev1.Service).DeepCopy(), nil
}

// Nodes implements policies.ClusterView: it returns the snapshot when it is current. A Node event during the
// list leaves the new snapshot behind the generation, so the next request
// lists again; the rules only read the slice, so requests share it.
func (v *CacheView) Nodes(ctx context.Context) ([]*corev1.Node, error) {
	s := &v.nodes
	if !s.watched.Load() {
		return v.listNodes(ctx)
	}
	gen := s.gen.Load()
	if last := s.last.Load(); last != nil && last.gen == gen {
		return last.nodes, nil
	}
	nodes, err := v.listNodes(ctx)
	if err != nil {
		return nil, err
	}
	s.last.Store(&nodesAt{gen: gen, nodes: nodes})
	return nodes, nil
}

func (v *CacheView) listNodes(ctx context.Context) ([]*corev1.Node, error) {
	list := &corev1.NodeList{}
	// The rules only read Nodes, so skip the deep copy of every Node that a
	// cache List makes by default: it dominates the cost in big clusters.
	if err := v.Cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing Nodes: %w", err)
	}
	nodes := make([]*corev1.Node, len(list.Items))
	for i := range list.Items {
		nodes[i] = &list.Items[i]
	}
	return nodes, nil
}

// StripForView is a cache transform that keeps only what the rules read:
// a Service's selector, type and cluster IP; a Node's labels, taints and
// unschedulable flag. Managed fields, annotations and status go, so memory
// stays small in big clusters.
func StripForView(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Service:
		return &corev1.Service{
			TypeMeta:   o.TypeMeta,
			ObjectMeta: slimMeta(o.ObjectMeta),
			Spec: corev1.ServiceSpec{Selector: o.Spec.Selector, Type: o.Spec.Type,
				ClusterIP: o.Spec.ClusterIP, ExternalName: o.Spec.ExternalName},
		}, nil
	case *corev1.Node:
		return &corev1.Node{
			TypeMeta:   o.TypeMeta,
			ObjectMeta: slimMeta(o.ObjectMeta),
			Spec:       corev1.NodeSpec{Taints: o.Spec.Taints, Unschedulable: o.Spec.Unschedulable},
		}, nil
	}
	return obj, nil
}

func slimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID,
		ResourceVersion: m.ResourceVersion, Labels: m.Labels}
}
