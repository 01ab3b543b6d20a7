// Package cluster proves what setwarden's rules promise about what happens
// after admission, in a cluster in a box: a real kube-apiserver with
// setwarden's webhooks, the real kube-scheduler and kube-controller-manager,
// and KWOK playing the kubelets of fake Nodes. Agent DaemonSets reach every
// node, StatefulSets get their DNS names and claims, and each prediction of
// the cluster-aware rules is compared with what the scheduler does.
package cluster

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/setwarden/setwarden/test/framework"
)

var (
	env *framework.Env
	// seedNodes are the cluster every test shares: three control-plane
	// Nodes, one of them also with the legacy master taint, and five workers,
	// in three zones.
	seedNodes = []*corev1.Node{
		framework.FakeNode("cp-1", framework.ControlPlane(), framework.InZone("zone-a")),
		framework.FakeNode("cp-2", framework.ControlPlane(), framework.InZone("zone-b")),
		framework.FakeNode("cp-3", framework.ControlPlane(), framework.InZone("zone-c"),
			framework.WithTaints(corev1.Taint{Key: framework.TaintLegacyMaster, Effect: corev1.TaintEffectNoSchedule})),
		framework.FakeNode("worker-1", framework.InZone("zone-a")),
		framework.FakeNode("worker-2", framework.InZone("zone-a")),
		framework.FakeNode("worker-3", framework.InZone("zone-b")),
		framework.FakeNode("worker-4", framework.InZone("zone-b")),
		framework.FakeNode("worker-5", framework.InZone("zone-c")),
	}
)

const (
	controlPlaneNodes = 3
	workerNodes       = 5
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	start := time.Now()
	var err error
	env, err = framework.Start(framework.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "cluster: stopping: %v\n", err)
		}
	}()
	c, err := env.StartCluster(context.Background(), framework.ClusterOptions{Nodes: seedNodes})
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster: %v\n", err)
		return 1
	}
	defer c.Stop()
	fmt.Printf("cluster: API server, setwarden, scheduler, controller manager, KWOK and %d Ready Nodes in %s\n",
		len(seedNodes), time.Since(start).Round(100*time.Millisecond))
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "cluster: logs in %s: server.log, kube-scheduler.log, kube-controller-manager.log, kwok.log (kept with SETWARDEN_E2E_KEEP=1)\n", env.Dir())
	}
	return code
}
