// Package setwarden holds the README, which the binary embeds so that
// `setwarden explain RULE` prints a rule's documentation without the
// repository: the README's "### <rule-id>" sections are the rule texts.
package setwarden

import (
	_ "embed"
	"strings"
)

//go:embed README.md
var readme string

// RuleDoc returns the text of the README's "### <id>" section, without its
// heading and trimmed; false when the README has no such section.
func RuleDoc(id string) (string, bool) {
	_, rest, ok := strings.Cut(readme, "\n### "+id+"\n")
	if !ok {
		return "", false
	}
	for _, next := range []string{"\n## ", "\n### "} {
		if i := strings.Index(rest, next); i >= 0 {
			rest = rest[:i]
		}
	}
	return strings.TrimSpace(rest), true
}
