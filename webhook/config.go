package webhook

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/setwarden/setwarden/policies"
)

// EngineStore holds the engine in force. A config reload swaps the whole
// engine atomically, so a request sees one config from start to end.
type EngineStore struct {
	p atomic.Pointer[policies.Engine]
}

// NewEngineStore returns a store holding e.
func NewEngineStore(e *policies.Engine) *EngineStore {
	s := &EngineStore{}
	s.p.Store(e)
	return s
}

// Load returns the engine in force.
func (s *EngineStore) Load() *policies.Engine { return s.p.Load() }

// Store puts a new engine in force.
func (s *EngineStore) Store(e *policies.Engine) { s.p.Store(e) }

// LoadConfigFile reads a PolicyConfig file; an empty path means the defaults.
func LoadConfigFile(path string) (*policies.Config, []byte, error) {
	if path == "" {
		return policies.DefaultConfig(), nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading PolicyConfig: %w", err)
	}
	cfg, err := policies.ParseConfig(data)
	if err != nil {
		return nil, data, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, data, nil
}

// ConfigWatcher reloads the PolicyConfig file when its content changes. It
// polls, because a mounted ConfigMap changes by swapping a symlink, which
// file watches miss. An invalid new version is logged and counted, and the
// last good config stays in force.
type ConfigWatcher struct {
	// Path is the PolicyConfig file.
	Path string
	// Interval is the polling period.
	Interval time.Duration
	// Store receives the new engine.
	Store *EngineStore
	// Metrics counts reloads.
	Metrics *Metrics
	// Loaded is the content the store's engine was built from.
	Loaded []byte
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica serves admission, so every replica reloads.
func (w *ConfigWatcher) NeedLeaderElection() bool { return false }

// Start polls until ctx is done.
func (w *ConfigWatcher) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithValues("path", w.Path)
	ticker := time.NewTicker(w.Interval)
	defer ticker.Stop()
	seen := w.Loaded
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		data, err := os.ReadFile(w.Path)
		if err != nil || bytes.Equal(data, seen) {
			if err != nil && len(seen) > 0 {
				log.Error(err, "Cannot read PolicyConfig; keeping the config in force")
				w.Metrics.ConfigReloads.WithLabelValues("error").Inc()
				seen = nil
			}
			continue
		}
		seen = data
		cfg, err := policies.ParseConfig(data)
		if err != nil {
			log.Error(err, "Rejected new PolicyConfig; keeping the last good config in force")
			w.Metrics.ConfigReloads.WithLabelValues("error").Inc()
			continue
		}
		w.Store.Store(policies.NewEngine(cfg))
		w.Metrics.ConfigReloads.WithLabelValues("success").Inc()
		log.Info("Reloaded PolicyConfig")
	}
}
