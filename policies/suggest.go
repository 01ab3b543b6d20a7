package policies

import (
	"fmt"
	"strings"
)

// SuggestRuleID returns the rule ID closest to id by edit distance, or ""
// when none is close enough to be the one meant: a misspelt or mistyped ID
// is within a third of its length (and at least 2) of the real one.
func SuggestRuleID(id string) string {
	limit := max(2, len(id)/3) + 1
	best := ""
	for i := range Rules {
		if d := editDistance(strings.ToLower(id), Rules[i].ID, limit); d < limit {
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

// editDistance is the Levenshtein distance of a and b, or limit when it is
// at least limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}
