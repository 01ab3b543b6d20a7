package framework

import (
	"context"
	"crypto/tls"
	_ "embed" // the KWOK stages
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// KWOK's annotation for the Nodes it manages: the cluster's kwok is started
// with --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake, so it
// leaves alone the bare Nodes other tests create.
const (
	KWOKNodeAnnotation = "kwok.x-k8s.io/node"
	KWOKNodeValue      = "fake"
)

// Well-known Node labels and taints the cluster tests place by.
const (
	LabelZone             = "topology.kubernetes.io/zone"
	LabelHostname         = "kubernetes.io/hostname"
	LabelControlPlane     = "node-role.kubernetes.io/control-plane"
	TaintControlPlane     = "node-role.kubernetes.io/control-plane"
	TaintLegacyMaster     = "node-role.kubernetes.io/master"
	defaultKWOKPodCIDR    = "10.128.0.0/14"
	defaultKWOKNodeIP     = "192.0.2.20"
	clusterProcessTimeout = 60 * time.Second
)

// kwokStages are KWOK's default node and pod stages (see kwok/stages.yaml).
//
//go:embed kwok/stages.yaml
var kwokStages []byte

// DefaultControllers are the kube-controller-manager controllers the
// cluster runs: the workload controllers, EndpointSlices, the PersistentVolume
// binder and the garbage collector. The ServiceAccount token controller is
// left out (it needs the service account signing key, and the API server
// runs without the ServiceAccount admission plugin), and so are the node
// lifecycle controllers: KWOK keeps the Nodes' status.
var DefaultControllers = []string{
	"daemonset-controller", "statefulset-controller", "replicaset-controller", "deployment-controller",
	"endpointslice-controller", "persistentvolume-binder-controller", "garbage-collector-controller",
}

// ClusterOptions tune StartCluster.
type ClusterOptions struct {
	// Nodes are created, as KWOK-managed fake Nodes, before StartCluster
	// returns; it waits until KWOK has marked every one Ready. FakeNode
	// builds them.
	Nodes []*corev1.Node
	// Controllers replaces DefaultControllers.
	Controllers []string
}

// Cluster is the rest of a cluster around an Env's API server: the real
// kube-scheduler and kube-controller-manager, and KWOK, which plays the
// kubelets of the fake Nodes (they become Ready, and the pods bound to them
// Running and Ready, without containers).
type Cluster struct {
	// Scheduler, ControllerManager and KWOK are the running processes,
	// each logging to its Log file in the Env's directory.
	Scheduler, ControllerManager, KWOK *Process
}

// StartCluster starts kube-scheduler, kube-controller-manager and KWOK
// against the Env's API server, creates opts.Nodes, and waits until the
// scheduler and controller manager answer /healthz and every Node is Ready.
// Stop the Cluster before the Env.
func (e *Env) StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	for _, bin := range []string{"kube-scheduler", "kube-controller-manager", "kwok"} {
		if _, err := os.Stat(filepath.Join(AssetsDir(), bin)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make tools` (hack/build-tools.sh) to build the test binaries", bin, AssetsDir())
		}
	}
	c := &Cluster{}
	if err := c.start(e, opts); err != nil {
		c.Stop()
		return nil, err
	}
	if err := e.CreateNodes(ctx, opts.Nodes...); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(e *Env, opts ClusterOptions) error {
	controllers := opts.Controllers
	if len(controllers) == 0 {
		controllers = DefaultControllers
	}
	delegated := []string{"--kubeconfig", e.Kubeconfig, "--leader-elect=false",
		"--authentication-kubeconfig", e.Kubeconfig, "--authorization-kubeconfig", e.Kubeconfig,
		"--bind-address", "127.0.0.1", "--cert-dir", e.dir}
	schedulerPort, err := freePort()
	if err != nil {
		return err
	}
	c.Scheduler, err = startKilledWithParent(filepath.Join(AssetsDir(), "kube-scheduler"), filepath.Join(e.dir, "kube-scheduler.log"),
		slices.Concat(delegated, []string{"--secure-port", strconv.Itoa(schedulerPort)})...)
	if err != nil {
		return err
	}
	kcmPort, err := freePort()
	if err != nil {
		return err
	}
	c.ControllerManager, err = startKilledWithParent(filepath.Join(AssetsDir(), "kube-controller-manager"), filepath.Join(e.dir, "kube-controller-manager.log"),
		slices.Concat(delegated, []string{"--secure-port", strconv.Itoa(kcmPort), "--controllers", strings.Join(controllers, ",")})...)
	if err != nil {
		return err
	}
	stages := filepath.Join(e.dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o600); err != nil {
		return err
	}
	c.KWOK, err = startKilledWithParent(filepath.Join(AssetsDir(), "kwok"), filepath.Join(e.dir, "kwok.log"),
		"--kubeconfig", e.Kubeconfig, "--config", stages,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", KWOKNodeAnnotation+"="+KWOKNodeValue,
		"--node-lease-duration-seconds=40", "--cidr", defaultKWOKPodCIDR, "--node-ip", defaultKWOKNodeIP)
	if err != nil {
		return err
	}
	for _, hc := range []struct {
		p    *Process
		port int
	}{{c.Scheduler, schedulerPort}, {c.ControllerManager, kcmPort}} {
		if err := waitHealthy(hc.p, hc.port); err != nil {
			return err
		}
	}
	return nil
}

// waitHealthy waits until the process answers /healthz on its secure port.
func waitHealthy(p *Process, port int) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a local health probe of a self-signed server
	url := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	deadline := time.Now().Add(clusterProcessTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("%s exited (%v); log in %s", filepath.Base(p.cmd.Path), err, p.Log)
		default:
		}
		if resp, err := hc.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer /healthz within %s; log in %s", filepath.Base(p.cmd.Path), clusterProcessTimeout, p.Log)
}

// startKilledWithParent starts a process like StartProcess, which the kernel
// kills if the test binary dies first, so a crashed test leaves no scheduler
// behind.
func startKilledWithParent(bin, log string, args ...string) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return startLogged(cmd, log)
}

// Stop stops KWOK, the controller manager and the scheduler, each with
// SIGTERM and, after five seconds, SIGKILL.
func (c *Cluster) Stop() {
	for _, p := range []*Process{c.KWOK, c.ControllerManager, c.Scheduler} {
		if p == nil {
			continue
		}
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.Kill()
			<-p.done
		}
	}
}

// NodeOption shapes a FakeNode.
type NodeOption func(*corev1.Node)

// InZone puts the Node in topology.kubernetes.io/zone zone.
func InZone(zone string) NodeOption {
	return WithLabels(map[string]string{LabelZone: zone})
}

// WithLabels adds labels to the Node.
func WithLabels(labels map[string]string) NodeOption {
	return func(n *corev1.Node) {
		for k, v := range labels {
			n.Labels[k] = v
		}
	}
}

// WithoutLabel removes a label FakeNode sets by default (the hostname).
func WithoutLabel(key string) NodeOption {
	return func(n *corev1.Node) { delete(n.Labels, key) }
}

// WithTaints adds taints to the Node.
func WithTaints(taints ...corev1.Taint) NodeOption {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, taints...) }
}

// ControlPlane labels the Node as a control-plane node and taints it
// node-role.kubernetes.io/control-plane:NoSchedule, as kubeadm does.
func ControlPlane() NodeOption {
	return func(n *corev1.Node) {
		n.Labels[LabelControlPlane] = ""
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: TaintControlPlane, Effect: corev1.TaintEffectNoSchedule})
	}
}

// Cordoned marks the Node unschedulable, as kubectl cordon does.
func Cordoned() NodeOption {
	return func(n *corev1.Node) { n.Spec.Unschedulable = true }
}

// WithCapacity sets the Node's capacity and allocatable (pods, CPU, memory).
func WithCapacity(pods int, cpu, memory string) NodeOption {
	return func(n *corev1.Node) {
		list := corev1.ResourceList{
			corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
			corev1.ResourceCPU:    resource.MustParse(cpu),
			corev1.ResourceMemory: resource.MustParse(memory),
		}
		n.Status.Capacity, n.Status.Allocatable = list, list.DeepCopy()
	}
}

// FakeNode returns a Node KWOK manages: its annotation, the
// kubernetes.io/hostname and kubernetes.io/os labels, 110 pods, 32 CPUs and
// 256 GiB of capacity, shaped further by opts.
func FakeNode(name string, opts ...NodeOption) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{KWOKNodeAnnotation: KWOKNodeValue},
			Labels: map[string]string{LabelHostname: name, "kubernetes.io/os": "linux",
				"kubernetes.io/arch": "amd64", "type": "kwok"},
		},
	}
	WithCapacity(110, "32", "256Gi")(n)
	for _, opt := range opts {
		opt(n)
	}
	return n
}

// CreateNodes creates KWOK-managed Nodes and waits until every one is
// Ready and schedulable. The API server keeps the status a Node is created
// with, so the scheduler sees its capacity at once. Its NodeTaint admission
// plugin taints every new Node node.kubernetes.io/not-ready:NoSchedule;
// the node lifecycle controller would lift the taint once the Node is
// Ready, but it is not run (it would also evict pods on its own clock), so
// CreateNodes lifts it as that controller would.
func (e *Env) CreateNodes(ctx context.Context, nodes ...*corev1.Node) error {
	for _, n := range nodes {
		if err := e.Client.Create(ctx, n.DeepCopy()); err != nil {
			return fmt.Errorf("creating Node %s: %w", n.Name, err)
		}
	}
	deadline := time.Now().Add(clusterProcessTimeout + time.Duration(len(nodes))*50*time.Millisecond)
	for _, n := range nodes {
		for {
			got := &corev1.Node{}
			if err := e.Client.Get(ctx, client.ObjectKeyFromObject(n), got); err != nil {
				return err
			}
			if NodeReady(got) {
				if err := e.liftNotReadyTaint(ctx, got); err != nil {
					return err
				}
				break
			}
			if time.Now().After(deadline) {
				return errors.New("KWOK did not make Node " + n.Name + " Ready in time")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func (e *Env) liftNotReadyTaint(ctx context.Context, n *corev1.Node) error {
	taints := slices.DeleteFunc(slices.Clone(n.Spec.Taints), func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeNotReady })
	if len(taints) == len(n.Spec.Taints) {
		return nil
	}
	patch := client.MergeFrom(n.DeepCopy())
	n.Spec.Taints = taints
	if err := e.Client.Patch(ctx, n, patch); err != nil {
		return fmt.Errorf("lifting the not-ready taint of Node %s: %w", n.Name, err)
	}
	return nil
}

// NodeReady reports whether the Node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// DeleteNodes deletes Nodes, ignoring those already gone.
func (e *Env) DeleteNodes(ctx context.Context, nodes ...*corev1.Node) error {
	for _, n := range nodes {
		if err := e.Client.Delete(ctx, n.DeepCopy()); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}
