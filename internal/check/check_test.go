package check

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/setwarden/setwarden/policies"
)

func TestEvaluateRecoversFromAPanic(t *testing.T) {
	// A typed nil makes the engine dereference nil: a stand-in for a bug in a rule.
	r, err := evaluate(t.Context(), policies.NewEngine(nil), (*appsv1.StatefulSet)(nil), nil, policies.EmptyView{})
	if r != nil || err == nil || !strings.HasPrefix(err.Error(), "internal error while evaluating the rules (please report it): ") {
		t.Errorf("evaluate() = %v, %v; want no report and an internal error", r, err)
	}
}
