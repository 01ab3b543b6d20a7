package audit

import (
	"context"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/pager"

	"github.com/setwarden/setwarden/internal/check"
	"github.com/setwarden/setwarden/policies"
)

// DefaultPageSize is how many objects one list request asks for: the page
// is judged and dropped before the next but one is read, so memory holds at
// most two pages of workloads whatever the cluster's size.
const DefaultPageSize = 500

// requestTimeout bounds each request, so that an unreachable API server is
// an error rather than a hang.
const requestTimeout = time.Minute

// Connect opens the cluster of kubeconfig and kubeContext (empty: kubectl's
// defaults, with kubectl's loading rules) and returns a client and the
// context's namespace ("default" when it names none), which is what -n
// defaults to, as with kubectl. The client speaks protobuf, which the API
// server encodes and client-go decodes several times faster than JSON.
func Connect(kubeconfig, kubeContext string) (kubernetes.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("no cluster to audit: %w", err)
	}
	namespace, _, err := loader.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("reading the kubeconfig's namespace: %w", err)
	}
	cfg.UserAgent = "setwarden-audit"
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	// A one-shot audit makes a few dozen requests; client-go's default of
	// 5 per second would make it wait for its own limiter.
	cfg.QPS, cfg.Burst = 50, 100
	if cfg.Timeout == 0 {
		cfg.Timeout = requestTimeout
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	return cs, namespace, nil
}

// ConfigSource says where an audit's PolicyConfig comes from.
type ConfigSource struct {
	// File is a PolicyConfig file; it wins over the cluster's.
	File string
	// FromCluster requires the installed PolicyConfig: a missing ConfigMap
	// is an error instead of the built-in defaults.
	FromCluster bool
	// Namespace and ConfigMap name the installed chart's ConfigMap.
	Namespace, ConfigMap string
}

// LoadConfig returns the PolicyConfig to judge the cluster with, and a
// phrase saying which it is, for the summary: the file, else the installed
// one, else (when its ConfigMap does not exist and FromCluster is not set)
// the built-in defaults. A ConfigMap that cannot be read for another reason
// (forbidden, say) is an error: the defaults could judge very differently
// from the webhook.
func LoadConfig(ctx context.Context, cs kubernetes.Interface, src ConfigSource) (*policies.Config, string, error) {
	if src.File != "" {
		cfg, err := ReadConfigFile(src.File)
		return cfg, "file " + src.File, err
	}
	cfg, err := check.ConfigFromCluster(ctx, cs, src.Namespace, src.ConfigMap)
	switch {
	case err == nil:
		return cfg, fmt.Sprintf("the installed PolicyConfig (ConfigMap %s/%s)", src.Namespace, src.ConfigMap), nil
	case apierrors.IsNotFound(err) && !src.FromCluster:
		return policies.DefaultConfig(), fmt.Sprintf("the built-in defaults (no ConfigMap %s/%s)", src.Namespace, src.ConfigMap), nil
	}
	return nil, "", err
}

// ReadConfigFile reads and validates a PolicyConfig file.
func ReadConfigFile(path string) (*policies.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the PolicyConfig: %w", err)
	}
	cfg, err := policies.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// judgedKinds are the workload kinds the webhook judges, by group and kind:
// an object whose controller is one of them is judged through it.
var judgedKinds = func() map[schema.GroupKind]bool {
	m := map[schema.GroupKind]bool{}
	for _, k := range policies.Kinds() {
		m[k.GroupKind()] = true
	}
	return m
}()

// Controlled reports whether obj's controller (its ownerReference with
// controller: true) is a judged workload kind: a Deployment's ReplicaSets,
// any controller's Pods, a CronJob's Jobs. Such objects are copies of
// their controller's template, so judging them would report each finding
// again for every copy. Objects that other controllers own (an operator's
// custom resources, a Node for static Pods) are judged.
func Controlled(obj metav1.Object) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && judgedKinds[schema.GroupKind{Group: gv.Group, Kind: ref.Kind}]
}

// listFunc lists one page of a kind.
type listFunc func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error)

// lister returns the typed list call of a judged kind in namespace ("" for
// all namespaces).
func lister(cs kubernetes.Interface, kind policies.Kind, namespace string) (listFunc, error) {
	switch kind.GroupKind() {
	case schema.GroupKind{Kind: "Pod"}:
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Pods(namespace).List(ctx, o)
		}, nil
	case schema.GroupKind{Kind: "ReplicationController"}:
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().ReplicationControllers(namespace).List(ctx, o)
		}, nil
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}:
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.AppsV1().Deployments(namespace).List(ctx, o)
		}, nil
	case schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}:
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.AppsV1().ReplicaSets(namespace).List(ctx, o)
		}, nil
	case schema.GroupKind{Group: "apps", Kind: "StatefulSet"}:
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.AppsV1().StatefulSets(namespace).List(ctx, o)
		}, nil
	case schema.GroupKind{Group: "apps", Kind: "DaemonSet"}:
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.AppsV1().DaemonSets(namespace).List(ctx, o)
		}, nil
	case schema.GroupKind{Group: "batch", Kind: "Job"}:
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.BatchV1().Jobs(namespace).List(ctx, o)
		}, nil
	case schema.GroupKind{Group: "batch", Kind: "CronJob"}:
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.BatchV1().CronJobs(namespace).List(ctx, o)
		}, nil
	}
	return nil, fmt.Errorf("no lister for kind %s: add it to audit's lister", kind.GroupKind())
}

// eachPaged lists with limit/continue, pageSize objects a page, and calls
// fn with each item. The next page is read while this one is judged, and
// a page is dropped once judged: at most two are held.
//
// A long list of a big cluster can outlast the API server's compaction of
// its snapshot: the next page then fails with 410 Gone (Expired). The list
// then starts over from a fresh snapshot and skips the objects up to the
// last one seen. The API server returns a list in the order of its storage
// keys, namespace then name, which is what a continue token resumes from,
// so every object is judged once (those judged before the restart in their
// earlier state) without remembering more than one key. It starts over at
// most maxListRestarts times.
func eachPaged(ctx context.Context, list listFunc, pageSize int64, fn func(obj runtime.Object) error) error {
	last := ""
	for restarts := 0; ; restarts++ {
		p := pager.New(pager.ListPageFunc(list))
		p.PageSize = pageSize
		p.PageBufferSize = 1
		resumeAfter := last
		err := p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
			key := storageKey(obj)
			if resumeAfter != "" && key <= resumeAfter {
				return nil
			}
			last = key
			return fn(obj)
		})
		if err == nil || !apierrors.IsResourceExpired(err) || restarts == maxListRestarts {
			return err
		}
	}
}

// maxListRestarts bounds how often eachPaged starts a list over.
const maxListRestarts = 3

// storageKey orders objects as the API server's storage does: namespace,
// then name (client-go's namespace/name key).
func storageKey(obj runtime.Object) string {
	key, _ := cache.MetaNamespaceKeyFunc(obj)
	return key
}
