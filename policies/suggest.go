package policies

import (
	"fmt"
	"strings"

	"github.com/setwarden/setwarden/internal/spelling"
)

// SuggestRuleID returns the rule ID closest to id by edit distance, or ""
// when none is close enough to be the one meant: a misspelt or mistyped ID
// is within a third of its length (and at least 2) of the real one.
func SuggestRuleID(id string) string {
	limit := max(2, len(id)/3) + 1
	best := ""
	for i := range Rules {
		if d := spelling.Distance(strings.ToLower(id), Rules[i].ID, limit); d < limit {
			best, limit = Rules[i].ID, d
		}
	}
	return best
}

// UnknownRuleMessage says that id names no rule, with the closest rule ID
// when one is close: `unknown rule "X"; did you mean "Y"?`.
func UnknownRuleMessage(id string) string {
	if s := SuggestRuleID(id); s != "" {
		return fmt.Sprintf("unknown rule %q; did you mean %q?", id, s)
	}
	return fmt.Sprintf("unknown rule %q", id)
}
