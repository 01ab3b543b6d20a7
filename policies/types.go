package policies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Action is what setwarden does about a finding.
type Action string

const (
	// ActionDeny rejects the object.
	ActionDeny Action = "Deny"
	// ActionWarn admits the object with an admission warning.
	ActionWarn Action = "Warn"
	// ActionAudit admits the object silently; the finding is counted and reported.
	ActionAudit Action = "Audit"
	// ActionMutate marks a gap the mutating webhook (or `check --fix`) closes.
	ActionMutate Action = "Mutate"
	// ActionOff disables a rule.
	ActionOff Action = "Off"
)

// UnmarshalJSON reads an action. YAML 1.1 reads an unquoted `Off` as the
// boolean false, so false is accepted as Off rather than surprising the
// operator who wrote `action: Off`.
func (a *Action) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "false":
		*a = ActionOff
		return nil
	case "true":
		return fmt.Errorf("invalid action true: use one of %s", strings.Join(configurableActions, ", "))
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("invalid action %s: use one of %s", data, strings.Join(configurableActions, ", "))
	}
	*a = Action(s)
	return nil
}

// configurableActions are the actions a PolicyConfig may set for a rule.
var configurableActions = []string{string(ActionDeny), string(ActionWarn), string(ActionAudit), string(ActionOff)}

// severity orders actions so that a cap can lower but never raise one.
func (a Action) severity() int {
	switch a {
	case ActionDeny:
		return 3
	case ActionWarn:
		return 2
	case ActionAudit:
		return 1
	default:
		return 0
	}
}

// capAt returns the milder of a and limit.
func (a Action) capAt(limit Action) Action {
	if a.severity() > limit.severity() {
		return limit
	}
	return a
}

// Finding is one violation of one rule, at one field of one object.
type Finding struct {
	// Rule is the rule ID, such as "statefulset-service-name".
	Rule string
	// Action is the resolved action for this finding.
	Action Action
	// Err carries the full field path, the error type and the message.
	Err *field.Error
	// Grandfathered marks a violation the old object already had on UPDATE,
	// downgraded to Warn; the rule's migration text says what to do.
	Grandfathered bool
}

// Fix returns the short text for an admission warning: the migration steps
// of a grandfathered finding, otherwise the message's detail.
func (f Finding) Fix() string {
	if f.Grandfathered {
		if r, ok := RuleByID(f.Rule); ok {
			return r.Migration
		}
	}
	return f.Err.Detail
}

// Message renders the finding as kubectl does: "path: Type: detail".
func (f Finding) Message() string { return f.Err.Error() }

// ErrNoData is returned by a ClusterView that does not know the answer, for
// example the offline CLI when its input holds no Nodes. Rules that need the
// data are skipped, never guessed.
var ErrNoData = errors.New("cluster data not available")

// ClusterView is the read-only view of the cluster that cross-object and
// cluster-aware rules read. The CLI backs it with the objects in its input,
// the webhook with an informer cache.
type ClusterView interface {
	// Service returns the Service, or found=false when it does not exist.
	// It returns ErrNoData (or another error) when it cannot tell.
	Service(ctx context.Context, namespace, name string) (svc *corev1.Service, found bool, err error)
	// Nodes lists the cluster's Nodes, or returns ErrNoData when unknown.
	Nodes(ctx context.Context) ([]*corev1.Node, error)
}

// EmptyView knows nothing: every cluster-aware rule is skipped.
type EmptyView struct{}

// Service implements ClusterView.
func (EmptyView) Service(context.Context, string, string) (*corev1.Service, bool, error) {
	return nil, false, ErrNoData
}

// Nodes implements ClusterView.
func (EmptyView) Nodes(context.Context) ([]*corev1.Node, error) { return nil, ErrNoData }
