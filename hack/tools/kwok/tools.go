//go:build tools

// Package tools pins KWOK, which simulates the test harness's Nodes and pod
// lifecycles without kubelets or containers.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
