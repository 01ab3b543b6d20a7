package webhook

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are setwarden's admission metrics, registered beside
// controller-runtime's own webhook metrics.
type Metrics struct {
	// Decisions counts findings by rule and action, plus one "Allow" per
	// object without findings; exempted findings count as action "Exempt".
	Decisions *prometheus.CounterVec
	// Duration is the time from decoded request to decision.
	Duration *prometheus.HistogramVec
	// ConfigReloads counts PolicyConfig reloads by result (success, error).
	ConfigReloads *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "setwarden_admission_decisions_total",
			Help: "Admission decisions by rule and action (Deny, Warn, Audit, Mutate, Exempt, Allow).",
		}, []string{"rule", "action", "kind", "operation", "dry_run"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "setwarden_admission_duration_seconds",
			Help:    "Time spent evaluating an admission request, by webhook.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25},
		}, []string{"webhook", "kind"}),
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "setwarden_config_reloads_total",
			Help: "PolicyConfig reloads by result; on error the last good config stays in force.",
		}, []string{"result"}),
	}
	m.Decisions = register(reg, m.Decisions)
	m.Duration = register(reg, m.Duration)
	m.ConfigReloads = register(reg, m.ConfigReloads)
	return m
}

// register registers c, or returns the collector already registered under
// its name, so that a second server in one process (tests) shares metrics.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector.(C)
		}
		panic(err)
	}
	return c
}
