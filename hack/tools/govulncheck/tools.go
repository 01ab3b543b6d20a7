//go:build tools

// Package tools pins the govulncheck command in this module's go.mod.
package tools

import _ "golang.org/x/vuln/cmd/govulncheck"
