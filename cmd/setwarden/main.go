// Command setwarden enforces Kubernetes admission policies for StatefulSets,
// agent DaemonSet tolerations and pod affinity, in a cluster as admission
// webhooks and offline with `setwarden check`.
package main

import (
	"context"
	"os"

	"github.com/setwarden/setwarden/cmd/setwarden/app"
)

func main() {
	// No signal handling here: `check` has nothing to clean up, so Ctrl-C
	// may kill it at once; long-running subcommands install their own.
	os.Exit(app.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
