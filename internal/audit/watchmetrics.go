package audit

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Causes of a judgement, the values of the cause label: why an object was
// judged again.
const (
	// CauseStart is the first full pass of a leader.
	CauseStart = "start"
	// CauseObject is a change of the object itself.
	CauseObject = "object"
	// CauseService is a change of a StatefulSet's governing Service.
	CauseService = "service"
	// CauseNodes is a change of the Nodes: only the rules that read Nodes
	// run again.
	CauseNodes = "nodes"
	// CauseConfig is a new PolicyConfig: a full pass.
	CauseConfig = "config"
)

// WatchMetrics are the metrics of watch mode. No label names an object, so
// their number does not grow with the cluster.
type WatchMetrics struct {
	// Findings counts the current findings by rule and action.
	Findings *prometheus.GaugeVec
	// Judged counts the objects judged, by cause.
	Judged *prometheus.CounterVec
	// PassSeconds is how long the last full pass took.
	PassSeconds prometheus.Gauge
	// Passes counts the full passes completed.
	Passes prometheus.Counter
	// ReportWrites counts the Report creates, updates and deletes.
	ReportWrites *prometheus.CounterVec
	// Events counts the Events emitted.
	Events prometheus.Counter
	// ConfigReloads counts PolicyConfig reloads by result.
	ConfigReloads *prometheus.CounterVec
}

// NewWatchMetrics creates the metrics and registers them with reg.
func NewWatchMetrics(reg prometheus.Registerer) *WatchMetrics {
	m := &WatchMetrics{
		Findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "setwarden_audit_findings",
			Help: "Findings of the workloads in the cluster now, by rule and action."}, []string{"rule", "action"}),
		Judged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "setwarden_audit_objects_judged_total",
			Help: "Objects judged, by cause: start, object, service, nodes or config."}, []string{"cause"}),
		PassSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "setwarden_audit_last_full_pass_duration_seconds",
			Help: "Duration of the last full pass over every workload."}),
		Passes: prometheus.NewCounter(prometheus.CounterOpts{Name: "setwarden_audit_full_passes_total",
			Help: "Full passes over every workload completed."}),
		ReportWrites: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "setwarden_audit_report_writes_total",
			Help: "Report writes, by operation: create, update or delete."}, []string{"operation"}),
		Events: prometheus.NewCounter(prometheus.CounterOpts{Name: "setwarden_audit_events_total",
			Help: "PolicyViolation Events emitted."}),
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "setwarden_audit_config_reloads_total",
			Help: "PolicyConfig reloads, by result: success or error."}, []string{"result"}),
	}
	reg.MustRegister(m.Findings, m.Judged, m.PassSeconds, m.Passes, m.ReportWrites, m.Events, m.ConfigReloads)
	for _, c := range []string{CauseStart, CauseObject, CauseService, CauseNodes, CauseConfig} {
		m.Judged.WithLabelValues(c)
	}
	for _, op := range []string{"create", "update", "delete"} {
		m.ReportWrites.WithLabelValues(op)
	}
	return m
}
