//go:build tools

// Package tools pins the cyclonedx-gomod command, which writes the release's
// CycloneDX SBOM, in this module's go.mod.
package tools

import _ "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod"
