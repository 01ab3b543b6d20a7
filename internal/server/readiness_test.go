package server

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

// heldCache syncs only once released, as an informer cache does once the
// API server has answered every initial list.
type heldCache struct{ synced chan struct{} }

func (c *heldCache) WaitForCacheSync(ctx context.Context) bool {
	select {
	case <-c.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

func TestReadinessWaitsForTheCaches(t *testing.T) {
	cache := &heldCache{synced: make(chan struct{})}
	check := CacheSynced(cache)
	probe := func() error { return check(httptest.NewRequest("GET", "/readyz", nil)) }

	if err := probe(); err == nil || err.Error() != "caches have not synced" {
		t.Errorf("while the caches are held back, the check returned %v, want \"caches have not synced\"", err)
	}
	close(cache.synced)
	if err := probe(); err != nil {
		t.Errorf("after the caches synced, the check returned %v, want ready", err)
	}
}

func TestReleaseAfterSyncWaitsForTheCachesAndStops(t *testing.T) {
	cache := &heldCache{synced: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- (&ReleaseAfterSync{Cache: cache}).Start(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Start returned %v before the caches synced", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(cache.synced)
	if err := <-done; err != nil {
		t.Errorf("Start returned %v after the caches synced, want nil", err)
	}
	cancel()
	if err := (&ReleaseAfterSync{Cache: &heldCache{synced: make(chan struct{})}}).Start(ctx); err != nil {
		t.Errorf("Start returned %v when stopped before the caches synced, want nil", err)
	}
}
