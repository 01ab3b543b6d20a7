package webhook

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/setwarden/setwarden/policies"
)

const (
	// maxWarningsSize is what the API server keeps of all warnings together.
	maxWarningsSize = 4096
	// moreWarnings closes a list of warnings cut to fit maxWarningsSize.
	moreWarnings = "setwarden: %d more warnings; see the setwarden logs or run setwarden check"
)

// Validator validates the workload kinds against the policy engine.
type Validator struct {
	// Engines holds the engine in force.
	Engines *EngineStore
	// View answers cross-object and cluster-aware questions.
	View *CacheView
	// Metrics records decisions.
	Metrics *Metrics
}

var _ admission.Validator[runtime.Object] = &Validator{}

// ValidateCreate implements admission.Validator.
func (v *Validator) ValidateCreate(ctx context.Context, obj runtime.Object) (admission.Warnings, error) {
	return v.validate(ctx, nil, obj)
}

// ValidateUpdate implements admission.Validator.
func (v *Validator) ValidateUpdate(ctx context.Context, oldObj, newObj runtime.Object) (admission.Warnings, error) {
	return v.validate(ctx, oldObj, newObj)
}

// ValidateDelete implements admission.Validator; deletes are never judged.
func (v *Validator) ValidateDelete(context.Context, runtime.Object) (admission.Warnings, error) {
	return nil, nil
}

// validate evaluates obj (and old on UPDATE) and turns the report into a
// decision: every Deny finding in one Invalid status, Warn findings as
// admission warnings, everything counted.
func (v *Validator) validate(ctx context.Context, old, obj runtime.Object) (admission.Warnings, error) {
	start := time.Now()
	req, _ := admission.RequestFromContext(ctx)
	engine := v.Engines.Load()
	report := engine.Evaluate(ctx, policies.Request{Object: obj, OldObject: old, View: v.View})
	elapsed := time.Since(start)
	w, ok := policies.NewWorkload(obj)
	if !ok { // the router only sends the workload kinds
		return nil, fmt.Errorf("setwarden does not evaluate %T", obj)
	}
	v.Metrics.record(req, w.GroupKind.Kind, report)
	v.Metrics.Duration.WithLabelValues("validate", w.GroupKind.Kind).Observe(elapsed.Seconds())
	logReport(ctx, w, report)

	warnings := warningsFor(report)
	if denied := deniedErrors(report); len(denied) > 0 {
		return warnings, apierrors.NewInvalid(w.GroupKind, w.Meta.Name, denied)
	}
	return warnings, nil
}

// deniedErrors returns a copy of every Deny finding's field error with its
// rule ID appended, so a user can look the rule up or exempt the object.
func deniedErrors(report *policies.Report) field.ErrorList {
	denied := field.ErrorList{}
	for _, f := range report.Findings {
		if f.Action == policies.ActionDeny {
			err := *f.Err
			err.Detail += " (rule " + f.Rule + ")"
			denied = append(denied, &err)
		}
	}
	return denied
}

// warningsFor renders Warn findings as admission warnings: the rule ID and
// the fix (the field path is in the log: it alone can fill the budget),
// each at most 256 characters and all together at most 4 KiB,
// as the API server truncates beyond that. The full text is in the log.
func warningsFor(report *policies.Report) admission.Warnings {
	var warnings admission.Warnings
	size := 0
	findings := report.Findings
	for i, f := range findings {
		if f.Action != policies.ActionWarn {
			continue
		}
		w := policies.Warning(f.Rule, f.Fix())
		// Keep room for the line that counts the rest, whatever comes after.
		if more := fmt.Sprintf(moreWarnings, countWarn(findings[i:])); size+len(w)+len(more) > maxWarningsSize {
			warnings = append(warnings, more)
			break
		}
		warnings = append(warnings, w)
		size += len(w)
	}
	return warnings
}

func countWarn(findings []policies.Finding) int {
	n := 0
	for _, f := range findings {
		if f.Action == policies.ActionWarn {
			n++
		}
	}
	return n
}

// logReport logs every finding with its full text.
func logReport(ctx context.Context, w *policies.Workload, report *policies.Report) {
	log := logf.FromContext(ctx).WithValues("object", klog.KObj(w.Meta))
	for _, f := range report.Findings {
		log.Info("Policy finding", "rule", f.Rule, "action", f.Action, "message", f.Message())
	}
	for _, f := range report.Exempted {
		log.V(1).Info("Exempted policy finding", "rule", f.Rule, "message", f.Message())
	}
	for _, n := range report.Notices {
		log.Info("Exemption notice", "notice", n)
	}
	for _, s := range report.Skipped {
		log.V(1).Info("Rule skipped for lack of cluster data", "rule", s.Rule, "reason", s.Reason)
	}
}

// record counts the decision's findings.
func (m *Metrics) record(req admission.Request, kind string, report *policies.Report) {
	op, dryRun := string(req.Operation), "false"
	if req.DryRun != nil && *req.DryRun {
		dryRun = "true"
	}
	for _, f := range report.Findings {
		m.Decisions.WithLabelValues(f.Rule, string(f.Action), kind, op, dryRun).Inc()
	}
	for _, f := range report.Exempted {
		m.Decisions.WithLabelValues(f.Rule, "Exempt", kind, op, dryRun).Inc()
	}
	if len(report.Findings) == 0 && len(report.Exempted) == 0 {
		m.Decisions.WithLabelValues("", "Allow", kind, op, dryRun).Inc()
	}
}
