package check

import (
	"github.com/setwarden/setwarden/internal/manifest"
	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// reportFieldErrors reports the unknown and duplicate fields of an object
// the engine does not evaluate (a Service or a Node) as input errors, one
// per field, at the field's line. The engine's findings belong to the
// workloads it judges; these objects are the cluster the rules read, so a
// misspelled selector there is input the check cannot trust. The rule's
// action in the object's namespace still applies: Off reports nothing.
func (e *evaluator) reportFieldErrors(doc *manifest.Document, ref report.ObjectRef) {
	if len(doc.FieldErrors) == 0 {
		return
	}
	rule, _ := policies.RuleByID(policies.RuleUnknownField)
	namespace := ref.Namespace
	if namespace == "" && ref.Kind == "Service" {
		namespace = "default"
	}
	if e.engine.Config().ActionFor(rule, namespace) == policies.ActionOff {
		return
	}
	locate := manifest.NewFieldLocator(doc)
	for _, err := range doc.FieldErrors {
		line := doc.Line
		if l := locate.Line(err.Field); l > 0 {
			line = l
		}
		e.builder.AddError(report.Problem{File: doc.File, Line: line, Object: &ref,
			Message: err.Error() + " (rule " + policies.RuleUnknownField + ")"})
	}
}
