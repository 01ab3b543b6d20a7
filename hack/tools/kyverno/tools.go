//go:build tools

// Package tools pins Kyverno's admission controller, one of the peer engines
// the benchmark (test/perf) runs side by side with setwarden.
package tools

import _ "github.com/kyverno/kyverno/cmd/kyverno"
