package webhook

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/setwarden/setwarden/policies"
)

// AgentTolerations adds the control-plane tolerations to agent DaemonSets.
// It edits the typed object; controller-runtime computes the JSON patch from
// the request's raw object, so fields unknown to our k8s.io/api survive.
type AgentTolerations struct {
	// Engines holds the engine in force.
	Engines *EngineStore
	// Metrics records mutations.
	Metrics *Metrics
}

var _ admission.Defaulter[*appsv1.DaemonSet] = &AgentTolerations{}

// Default implements admission.Defaulter.
func (m *AgentTolerations) Default(ctx context.Context, ds *appsv1.DaemonSet) error {
	start := time.Now()
	added := m.Engines.Load().MutateAgentTolerations(ds)
	m.Metrics.Duration.WithLabelValues("mutate", "DaemonSet").Observe(time.Since(start).Seconds())
	if len(added) == 0 {
		return nil
	}
	req, _ := admission.RequestFromContext(ctx)
	report := &policies.Report{}
	for range added {
		report.Findings = append(report.Findings, policies.Finding{Rule: policies.RuleAgentTolerations, Action: policies.ActionMutate})
	}
	m.Metrics.record(req, "DaemonSet", report)
	logf.FromContext(ctx).Info("Added control-plane tolerations", "object", klog.KObj(ds), "tolerations", added)
	return nil
}
