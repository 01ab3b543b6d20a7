package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/setwarden/setwarden/internal/kjson"
	"github.com/setwarden/setwarden/policies"
)

// Mutator edits a typed object in place and reports whether it changed it,
// so that an object left alone costs no patch computation.
type Mutator[T runtime.Object] interface {
	Mutate(ctx context.Context, obj T) (changed bool, err error)
}

// mutatorHandler runs a Mutator on a request whose kind the router has
// already matched. Like controller-runtime's defaulter handler, it lets
// controller-runtime compute the JSON patch from the request's raw object
// to the edited one, and keeps the fields our k8s.io/api does not know; it
// decodes with kjson, and skips the deep copy and comparison the defaulter
// handler needs to find out whether anything changed.
type mutatorHandler[T runtime.Object] struct {
	mutator Mutator[T]
}

// withMutator returns the handler for one kind.
func withMutator[T runtime.Object](m Mutator[T]) admission.Handler {
	return &mutatorHandler[T]{mutator: m}
}

// Handle implements admission.Handler: only CREATE and UPDATE are mutated.
func (h *mutatorHandler[T]) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	ctx = admission.NewContextWithRequest(ctx, req)
	obj := newObject[T]()
	if err := decodeRaw(req, req.Object, obj); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	changed, err := h.mutator.Mutate(ctx, obj)
	if err != nil {
		return refused(err)
	}
	if !changed {
		return admission.Allowed("")
	}
	return h.patch(req.Object.Raw, obj)
}

// keepUnknownFields drops the patch's "remove" operations that only reflect
// what decoding into T loses (fields of a newer API, explicit nulls): those
// are in the patch from the raw object to the unedited T as well. This is
// what controller-runtime's defaulter does by default; here the unedited
// object is decoded again only when the patch removes something, which a
// mutation that only adds never does.
func keepUnknownFields[T runtime.Object](resp *admission.Response, raw []byte) error {
	const remove = "remove"
	hasRemoval := false
	for _, op := range resp.Patches {
		hasRemoval = hasRemoval || op.Operation == remove
	}
	if !resp.Allowed || !hasRemoval {
		return nil
	}
	original := newObject[T]()
	if err := kjson.Unmarshal(raw, original); err != nil {
		return err
	}
	marshalled, err := json.Marshal(original)
	if err != nil {
		return err
	}
	lost, err := jsonpatch.CreatePatch(raw, marshalled)
	if err != nil {
		return fmt.Errorf("comparing the object with its typed form: %w", err)
	}
	removedByDecoding := map[string]bool{}
	for _, op := range lost {
		if op.Operation == remove {
			removedByDecoding[op.Path] = true
		}
	}
	kept := resp.Patches[:0]
	for _, op := range resp.Patches {
		if op.Operation != remove || !removedByDecoding[op.Path] {
			kept = append(kept, op)
		}
	}
	resp.Patches = kept
	if len(kept) == 0 {
		resp.PatchType = nil
	}
	return nil
}

// AgentTolerations adds the control-plane tolerations to agent DaemonSets.
type AgentTolerations struct {
	// Engines holds the engine in force.
	Engines *EngineStore
	// Metrics records mutations.
	Metrics *Metrics
}

var (
	_ Mutator[*appsv1.DaemonSet]       = &AgentTolerations{}
	_ ScopedMutator[*appsv1.DaemonSet] = &AgentTolerations{}
)

// MutatedPath implements ScopedMutator: the engine adds tolerations to the
// pod template and changes nothing else.
func (m *AgentTolerations) MutatedPath() []string {
	return []string{"spec", "template", "spec", "tolerations"}
}

// MutatedValue implements ScopedMutator.
func (m *AgentTolerations) MutatedValue(ds *appsv1.DaemonSet) any {
	return ds.Spec.Template.Spec.Tolerations
}

// Mutate implements Mutator.
func (m *AgentTolerations) Mutate(ctx context.Context, ds *appsv1.DaemonSet) (bool, error) {
	start := time.Now()
	added := m.Engines.Load().MutateAgentTolerations(ds)
	m.Metrics.Duration.WithLabelValues("mutate", "DaemonSet").Observe(time.Since(start).Seconds())
	if len(added) == 0 {
		return false, nil
	}
	req, _ := admission.RequestFromContext(ctx)
	report := &policies.Report{}
	for range added {
		report.Findings = append(report.Findings, policies.Finding{Rule: policies.RuleAgentTolerations, Action: policies.ActionMutate})
	}
	m.Metrics.record(req, "DaemonSet", report)
	logf.FromContext(ctx).Info("Added control-plane tolerations", "object", klog.KObj(ds), "tolerations", added)
	return true, nil
}
