package perf

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// populateWorkers is how many creates run at once.
const populateWorkers = 20

// populate creates cacheServices Services (in MixNamespace) and cacheNodes
// Nodes and returns the name of each kind's last one the API server stored
// (the highest resourceVersion): the last a watch delivers.
func populate(t *testing.T, cs *kubernetes.Clientset) (lastService, lastNode string) {
	t.Helper()
	ctx := t.Context()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: MixNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	lastService = createAll(t, cacheServices, func(i int) (metav1.Object, error) {
		return cs.CoreV1().Services(MixNamespace).Create(ctx, service(i), metav1.CreateOptions{})
	})
	lastNode = createAll(t, cacheNodes, func(i int) (metav1.Object, error) {
		return cs.CoreV1().Nodes().Create(ctx, node(i), metav1.CreateOptions{})
	})
	fmt.Printf("perf: memory: created %d Services and %d Nodes in %s with %d workers\n",
		cacheServices, cacheNodes, time.Since(start).Round(time.Millisecond), populateWorkers)
	return lastService, lastNode
}

// createAll runs create for 0..n-1 on populateWorkers goroutines and
// returns the name of the object with the highest resourceVersion.
func createAll(t *testing.T, n int, create func(i int) (metav1.Object, error)) string {
	t.Helper()
	next := make(chan int)
	var mu sync.Mutex
	var lastRV int64
	var last string
	errs := &firstError{}
	var wg sync.WaitGroup
	for range populateWorkers {
		wg.Go(func() {
			for i := range next {
				obj, err := create(i)
				if err != nil {
					errs.note(err)
					continue
				}
				rv, _ := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
				mu.Lock()
				if rv > lastRV {
					lastRV, last = rv, obj.GetName()
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errs.get(); err != nil {
		t.Fatal(err)
	}
	return last
}

// service is a headless Service as a Helm chart makes it.
func service(i int) *corev1.Service {
	app := fmt.Sprintf("app-%05d", i)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: MixNamespace,
			Labels:      map[string]string{"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "Helm"},
			Annotations: map[string]string{"meta.helm.sh/release-name": app, "meta.helm.sh/release-namespace": MixNamespace}},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app.kubernetes.io/name": app},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromString("http")}}},
	}
}

// node is a worker Node with the labels, addresses, capacity, conditions
// and image list a kubelet reports (about 4 KB of JSON).
func node(i int) *corev1.Node {
	name := fmt.Sprintf("node-%04d", i)
	resources := corev1.ResourceList{"cpu": resource.MustParse("8"), "memory": resource.MustParse("32Gi"),
		"pods": resource.MustParse("110"), "ephemeral-storage": resource.MustParse("100Gi")}
	var conditions []corev1.NodeCondition
	for _, c := range []corev1.NodeConditionType{"Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"} {
		status := corev1.ConditionFalse
		if c == corev1.NodeReady {
			status = corev1.ConditionTrue
		}
		conditions = append(conditions, corev1.NodeCondition{Type: c, Status: status, Reason: "KubeletReady", Message: "kubelet is posting ready status"})
	}
	var images []corev1.ContainerImage
	for j := range 15 {
		images = append(images, corev1.ContainerImage{SizeBytes: int64(j+1) << 24, Names: []string{
			fmt.Sprintf("registry.example/team/image-%02d@sha256:%064d", j, j), fmt.Sprintf("registry.example/team/image-%02d:1.%d.0", j, j)}})
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"topology.kubernetes.io/zone": fmt.Sprintf("zone-%d", i%3), "topology.kubernetes.io/region": "region-1",
			"node.kubernetes.io/instance-type": "standard-8",
		}},
		Spec: corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 100+i/256, i%256)},
		Status: corev1.NodeStatus{Capacity: resources, Allocatable: resources, Conditions: conditions, Images: images,
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.1.%d.%d", i/256, i%256)},
				{Type: corev1.NodeHostName, Address: name}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OperatingSystem: "linux", Architecture: "amd64",
				ContainerRuntimeVersion: "containerd://2.1.0", KernelVersion: "6.12.0", OSImage: "Ubuntu 24.04 LTS"}},
	}
}
