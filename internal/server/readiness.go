package server

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// syncer is the part of a cache that tells whether it has synced.
type syncer interface {
	WaitForCacheSync(ctx context.Context) bool
}

// CacheSynced is the readiness check of the caches: not ready until every
// informer has synced, since a decision made on an empty cache would deny
// StatefulSets whose Service exists and skip the node-aware rules. It waits
// at most 100 ms, so that a probe never hangs.
func CacheSynced(c syncer) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 100*time.Millisecond)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("caches have not synced")
		}
		return nil
	}
}

// ReleaseAfterSync returns the memory of the caches' initial lists to the
// operating system once the caches have synced. In a big cluster those lists
// (every Service and Node, whole, before the cache strips them) are garbage
// the moment the informers have stored them, but the process would keep
// their pages until the next collection and the scavenger's slow pace: on
// 10,000 Services and 1,000 Nodes that is tens of MiB of resident memory.
type ReleaseAfterSync struct {
	Cache syncer
}

// Start implements manager.Runnable; it returns once it has run.
func (r *ReleaseAfterSync) Start(ctx context.Context) error {
	if r.Cache.WaitForCacheSync(ctx) {
		debug.FreeOSMemory()
	}
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica has its own memory.
func (*ReleaseAfterSync) NeedLeaderElection() bool { return false }

// Check is a named readiness check.
type Check struct {
	Name    string
	Checker healthz.Checker
}

// AddChecks gives a manager the probes every setwarden server has: a
// liveness ping, and readiness that turns false as soon as shutdown begins
// (ctx is done), before the servers are told to stop, then the extra checks,
// then the caches' sync (CacheSynced).
func AddChecks(ctx context.Context, mgr manager.Manager, extra ...Check) error {
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("shutdown", func(*http.Request) error {
		if ctx.Err() != nil {
			return errors.New("shutting down")
		}
		return nil
	}); err != nil {
		return err
	}
	for _, c := range extra {
		if err := mgr.AddReadyzCheck(c.Name, c.Checker); err != nil {
			return err
		}
	}
	return mgr.AddReadyzCheck("cache", CacheSynced(mgr.GetCache()))
}
