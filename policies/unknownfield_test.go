package policies

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestUnknownFieldFindings(t *testing.T) {
	affinityPath := field.NewPath("spec", "template", "spec", "affinity", "nodeAfinity")
	decodeErrs := field.ErrorList{
		field.Forbidden(affinityPath, `unknown field; did you mean "nodeAffinity"?`),
		field.Forbidden(field.NewPath("metadata"), "duplicate field, at lines 3 and 9"),
	}
	deployment := func(annotations map[string]string) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Annotations: annotations},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}}}}}
	}
	tests := []struct {
		name         string
		config       string
		req          Request
		wantFindings []string
		wantExempted []string
	}{
		{
			name: "each decode error is a Deny finding of unknown-field with its kubectl-style message",
			req:  Request{Object: deployment(nil), DecodeErrors: decodeErrs, Mode: ModeOffline},
			wantFindings: []string{
				`unknown-field Deny spec.template.spec.affinity.nodeAfinity: Forbidden: unknown field; did you mean "nodeAffinity"?`,
				`unknown-field Deny metadata: Forbidden: duplicate field, at lines 3 and 9`,
			},
		},
		{
			name: "admission requests carry no decode errors, so the rule never fires there",
			req:  Request{Object: deployment(nil), Mode: ModeAdmission},
		},
		{
			name:   "the PolicyConfig sets the rule's action per namespace",
			config: "rules:\n  unknown-field:\n    action: Deny\n    namespaces: {shop: Warn}\n",
			req:    Request{Object: deployment(nil), DecodeErrors: decodeErrs[:1], Mode: ModeOffline},
			wantFindings: []string{
				`unknown-field Warn spec.template.spec.affinity.nodeAfinity: Forbidden: unknown field; did you mean "nodeAffinity"?`,
			},
		},
		{
			name:   "the rule can be turned off",
			config: "rules:\n  unknown-field: {action: Off}\n",
			req:    Request{Object: deployment(nil), DecodeErrors: decodeErrs, Mode: ModeOffline},
		},
		{
			name: "an object can exempt itself from the rule with a reason",
			req: Request{Object: deployment(map[string]string{ExemptAnnotation: RuleUnknownField, ExemptReasonAnnotation: "fields of a newer Kubernetes"}),
				DecodeErrors: decodeErrs[:1], Mode: ModeOffline},
			wantExempted: []string{
				`unknown-field Deny spec.template.spec.affinity.nodeAfinity: Forbidden: unknown field; did you mean "nodeAffinity"?`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.config != "" {
				cfg = mustConfig(t, tt.config)
			}
			r := NewEngine(cfg).Evaluate(t.Context(), tt.req)
			if diff := cmp.Diff(tt.wantFindings, ruleFindings(r.Findings, RuleUnknownField)); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantExempted, ruleFindings(r.Exempted, RuleUnknownField)); diff != "" {
				t.Errorf("exempted mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// ruleFindings renders the findings of one rule as "rule action message".
func ruleFindings(findings []Finding, rule string) []string {
	var out []string
	for _, f := range findings {
		if f.Rule == rule {
			out = append(out, f.Rule+" "+string(f.Action)+" "+f.Message())
		}
	}
	return out
}
