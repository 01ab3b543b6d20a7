package policies

import "unicode/utf8"

// MaxWarningLength is the API server's limit for one admission warning.
const MaxWarningLength = 256

// Warning renders a finding as an admission warning, "rule: fix", cut to
// MaxWarningLength bytes on a rune boundary and marked "..." where cut. The
// webhook and the exported native policies give the same text.
func Warning(rule, fix string) string {
	s := rule + ": " + fix
	if len(s) <= MaxWarningLength {
		return s
	}
	const ellipsis = "..."
	cut := MaxWarningLength - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
