package webhook

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/setwarden/setwarden/policies"
)

// TestConfigWatcher: a valid new PolicyConfig takes effect; an invalid one
// is counted as an error and the last good config stays in force.
func TestConfigWatcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(doc string) {
		t.Helper()
		if err := os.WriteFile(path+".tmp", []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	head := "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n"
	write(head)
	cfg, raw, err := LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	store := NewEngineStore(policies.NewEngine(cfg))
	m := NewMetrics(prometheus.NewRegistry())
	w := &ConfigWatcher{Path: path, Interval: 10 * time.Millisecond, Store: store, Metrics: m, Loaded: raw}
	go func() { _ = w.Start(t.Context()) }()

	action := func() policies.Action {
		rule, _ := policies.RuleByID(policies.RuleStatefulSetServiceMissing)
		return store.Load().Config().ActionFor(rule, "apps")
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	write(head + "rules:\n  statefulset-service-missing: {action: Deny}\n")
	eventually("the valid config to apply", func() bool { return action() == policies.ActionDeny })
	if got := testutil.ToFloat64(m.ConfigReloads.WithLabelValues("success")); got != 1 {
		t.Errorf("successful reloads = %v, want 1", got)
	}

	write(head + "rules:\n  statefulset-service-missing: {action: Maybe}\n")
	eventually("the invalid config to be counted", func() bool {
		return testutil.ToFloat64(m.ConfigReloads.WithLabelValues("error")) == 1
	})
	if got := action(); got != policies.ActionDeny {
		t.Errorf("after an invalid config the action is %q, want the last good one, Deny", got)
	}
}
