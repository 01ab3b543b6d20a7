//go:build tools

// Package tools pins Gatekeeper's manager (the module's root package), one of
// the peer engines the benchmark (test/perf) runs side by side with setwarden.
package tools

import _ "github.com/open-policy-agent/gatekeeper/v3"
