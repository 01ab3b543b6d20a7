package webhook

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllertest"
)

func TestStripForView(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "n", Namespace: "ns", ResourceVersion: "7", Labels: map[string]string{"a": "b"},
		Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
	slim := metav1.ObjectMeta{Name: "n", Namespace: "ns", ResourceVersion: "7", Labels: map[string]string{"a": "b"}}
	tests := []struct {
		name string
		in   any
		want any
	}{
		{
			name: "a Service keeps only its selector, type and cluster IP",
			in: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"},
				Ports: []corev1.ServicePort{{Port: 5432}}}, Status: corev1.ServiceStatus{Conditions: []metav1.Condition{{Type: "x"}}}},
			want: &corev1.Service{ObjectMeta: slim, Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}}},
		},
		{
			name: "a Node keeps only its labels, taints and unschedulable flag",
			in: &corev1.Node{ObjectMeta: meta, Spec: corev1.NodeSpec{Unschedulable: true, PodCIDR: "10.0.0.0/24",
				Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}},
				Status: corev1.NodeStatus{Images: []corev1.ContainerImage{{Names: []string{"big"}}}}},
			want: &corev1.Node{ObjectMeta: slim, Spec: corev1.NodeSpec{Unschedulable: true,
				Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}}},
		},
		{name: "other objects pass through", in: &corev1.Pod{ObjectMeta: meta}, want: &corev1.Pod{ObjectMeta: meta}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StripForView(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// countingReader counts the Lists that reach the cache.
type countingReader struct {
	client.Reader
	lists int
}

func (r *countingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	r.lists++
	return r.Reader.List(ctx, list, opts...)
}

func TestNodesAreListedAgainOnlyAfterANodeChanges(t *testing.T) {
	node := func(name string) *corev1.Node { return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	reader := &countingReader{Reader: fake.NewClientBuilder().WithObjects(node("a")).Build()}
	view := &CacheView{Cache: reader}
	names := func() []string {
		t.Helper()
		nodes, err := view.Nodes(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range nodes {
			names = append(names, n.Name)
		}
		return names
	}

	names()
	names()
	if reader.lists != 2 {
		t.Fatalf("without a watch every request must list: %d lists, want 2", reader.lists)
	}
	informer := &controllertest.FakeInformer{}
	if err := view.WatchNodes(informer); err != nil {
		t.Fatal(err)
	}
	names()
	names()
	if reader.lists != 3 {
		t.Errorf("with a watch and no Node event: %d lists, want 3", reader.lists)
	}
	if err := reader.Reader.(client.Client).Create(t.Context(), node("b")); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("before the informer reports it, got %v, want the snapshot [a]", got)
	}
	informer.Add(node("b"))
	if got := names(); !slices.Equal(got, []string{"a", "b"}) || reader.lists != 4 {
		t.Errorf("after the Add event got %v in %d lists, want [a b] in 4", got, reader.lists)
	}
	informer.Delete(node("b"))
	names()
	if reader.lists != 5 {
		t.Errorf("a Delete event must invalidate the snapshot: %d lists, want 5", reader.lists)
	}
}

// apiServer is the API reader of a CacheView: it counts GETs, answers with
// its Service or NotFound, and, when hold is set, answers only once hold is
// closed or the GET's context ends.
type apiServer struct {
	client.Reader
	svc  *corev1.Service
	hold chan struct{}
	gets atomic.Int32
}

func (a *apiServer) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	a.gets.Add(1)
	if a.hold != nil {
		select {
		case <-a.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if a.svc == nil || a.svc.Name != key.Name {
		return apierrors.NewNotFound(corev1.Resource("services"), key.Name)
	}
	a.svc.DeepCopyInto(obj.(*corev1.Service))
	return nil
}

func TestServiceCacheMissesAskTheAPIServerSparingly(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	newView := func(api *apiServer) *CacheView {
		v := &CacheView{Cache: fake.NewClientBuilder().Build(), APIReader: api}
		v.absent.clock, v.absent.timeout = clk, time.Second
		return v
	}
	lookup := func(t *testing.T, v *CacheView, name string) (bool, error) {
		t.Helper()
		_, found, err := v.Service(t.Context(), "data", name)
		return found, err
	}

	t.Run("concurrent lookups of a missing Service share one GET", func(t *testing.T) {
		api := &apiServer{hold: make(chan struct{})}
		v := newView(api)
		var wg sync.WaitGroup
		results := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				found, err := lookup(t, v, "db")
				if found {
					err = errors.New("found a Service that does not exist")
				}
				results <- err
			})
		}
		for api.gets.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // let the others join the GET in flight
		close(api.hold)
		wg.Wait()
		close(results)
		for err := range results {
			if err != nil {
				t.Error(err)
			}
		}
		// Lookups that came after the GET answered take its answer.
		if got := api.gets.Load(); got != 1 {
			t.Errorf("%d GETs, want 1", got)
		}
	})
	t.Run("the API server's not found is taken for a second, then asked again", func(t *testing.T) {
		api := &apiServer{}
		v := newView(api)
		lookup(t, v, "db")
		clk.Step(time.Second) // the answer stands for its whole second
		lookup(t, v, "db")
		if got := api.gets.Load(); got != 1 {
			t.Errorf("within the second: %d GETs, want 1", got)
		}
		clk.Step(time.Millisecond)
		lookup(t, v, "db")
		if got := api.gets.Load(); got != 2 {
			t.Errorf("after the second: %d GETs, want 2", got)
		}
	})
	t.Run("a Service the API server has is found, and not remembered as absent", func(t *testing.T) {
		api := &apiServer{svc: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data"}}}
		v := newView(api)
		for range 2 {
			if found, err := lookup(t, v, "db"); !found || err != nil {
				t.Errorf("found %v, %v; want found", found, err)
			}
		}
		if got := api.gets.Load(); got != 2 {
			t.Errorf("%d GETs, want 2 (the informer cache will have it)", got)
		}
	})
	t.Run("a slow API server is given up on and the lookup fails", func(t *testing.T) {
		api := &apiServer{hold: make(chan struct{})}
		v := newView(api)
		v.absent.timeout = 10 * time.Millisecond
		found, err := lookup(t, v, "db")
		if found || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("found %v, %v; want a deadline error", found, err)
		}
		close(api.hold)
		if found, err := lookup(t, v, "db"); found || err != nil {
			t.Errorf("a failed GET must not be remembered: found %v, %v; want not found", found, err)
		}
	})
	t.Run("the Services remembered as absent are bounded", func(t *testing.T) {
		api := &apiServer{}
		v := newView(api)
		for i := range maxAbsent + 10 {
			lookup(t, v, "svc-"+strconv.Itoa(i))
		}
		if n := len(v.absent.absent.Keys()); n != maxAbsent {
			t.Errorf("%d Services remembered, want the last %d", n, maxAbsent)
		}
	})
}
