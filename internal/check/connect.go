package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// Cluster says what of a live cluster a check reads: check's --cluster,
// --kubeconfig, --context, --config-from-cluster, --setwarden-namespace and
// --setwarden-configmap.
type Cluster struct {
	// Enabled reads Services and Nodes from the cluster (--cluster).
	Enabled    bool
	Kubeconfig string
	Context    string
	// ConfigFromLive reads the installed PolicyConfig from ConfigMap
	// Namespace/ConfigMap (--config-from-cluster).
	ConfigFromLive bool
	Namespace      string
	ConfigMap      string
}

// GCPercent is the garbage collector's GOGC for a check. A check's
// live heap is small and does not grow with the input (about 8 MiB, see
// BenchmarkCheck100k), and it allocates that much every few hundred
// objects: collecting at 5x the live heap instead of 2x makes it about 15%
// faster for some 20 MiB more memory, which stays flat.
const GCPercent = 400

// UseGC sets GCPercent unless GOGC is set in the environment, and
// returns the function that puts the previous setting back.
func UseGC() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	old := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(old) }
}

// Connect opens the live cluster when --cluster or --config-from-cluster
// asks for it, reads the installed PolicyConfig for the latter, and probes
// the cluster once for the former. A cluster that cannot be reached, or
// refuses the credentials or the access, is an input error with the API
// server's message, and the check goes on without it (with the built-in
// PolicyConfig for --config-from-cluster).
func Connect(ctx context.Context, o Cluster, namespace string, cfg *policies.Config) (kubernetes.Interface, *policies.Config, []report.Problem) {
	if !o.Enabled && !o.ConfigFromLive {
		return nil, cfg, nil
	}
	flag := "--cluster"
	if o.ConfigFromLive {
		flag = "--config-from-cluster"
	}
	cs, err := NewClient(o.Kubeconfig, o.Context, "setwarden-check")
	if err != nil {
		return nil, cfg, []report.Problem{{File: flag, Message: err.Error() + "; checked without the cluster"}}
	}
	server := ServerURL(cs)
	var errs []report.Problem
	if o.ConfigFromLive {
		live, err := ConfigFromCluster(ctx, cs, o.Namespace, o.ConfigMap)
		if err != nil {
			errs = append(errs, report.Problem{File: server, Message: "--config-from-cluster: " + err.Error() + "; checked with the built-in PolicyConfig"})
			if !isAPIStatus(err) {
				return nil, cfg, errs // not reached: probing again would only wait again
			}
		} else {
			cfg = live
		}
	}
	if !o.Enabled {
		return nil, cfg, errs
	}
	if err := Probe(ctx, cs, namespace); err != nil {
		return nil, cfg, append(errs, report.Problem{File: server, Message: "--cluster: " + err.Error() + "; checked without the cluster"})
	}
	return cs, cfg, errs
}

// isAPIStatus reports whether err is an answer of the API server (such as
// 401, 403 or 404), rather than a failure to reach it.
func isAPIStatus(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}

// LoadConfig reads the PolicyConfig at path, or returns nil (the defaults)
// when path is empty.
func LoadConfig(path string) (*policies.Config, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --config: %w", err)
	}
	cfg, err := policies.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
