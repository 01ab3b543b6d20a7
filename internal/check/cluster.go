package check

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/setwarden/setwarden/policies"
)

// NewClient connects to the cluster of kubeconfig and kubeContext (empty:
// kubectl's defaults), with kubectl's loading rules.
func NewClient(kubeconfig, kubeContext, userAgent string) (kubernetes.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to read: %w", err)
	}
	cfg.UserAgent = userAgent
	return kubernetes.NewForConfig(cfg)
}

// probeTimeout bounds the probe of a cluster that does not answer.
const probeTimeout = 15 * time.Second

// Probe asks the cluster once, before a check, whether it can be read as
// the check reads it: a list of at most one Service in namespace. It
// returns the API server's answer when the cluster cannot be reached, or
// refuses the credentials (401) or the access (403), so that the check can
// say so instead of skipping the cluster-aware rules in silence.
func Probe(ctx context.Context, cs kubernetes.Interface, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if _, err := cs.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("cannot read the cluster (list Services in namespace %s): %w", namespace, err)
	}
	return nil
}

// ServerURL returns the address of the API server of cs, to name it in
// reports, or "cluster" when it is not known.
func ServerURL(cs kubernetes.Interface) string {
	if rc, ok := cs.CoreV1().RESTClient().(*rest.RESTClient); ok && rc != nil && rc.Get().URL() != nil {
		u := rc.Get().URL()
		return u.Scheme + "://" + u.Host
	}
	return "cluster"
}

// ConfigFromCluster reads the PolicyConfig of the installed chart from the
// config.yaml key of its ConfigMap.
func ConfigFromCluster(ctx context.Context, cs kubernetes.Interface, namespace, name string) (*policies.Config, error) {
	cm, err := cs.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the installed PolicyConfig (ConfigMap %s/%s; set --setwarden-namespace and --setwarden-configmap): %w", namespace, name, err)
	}
	data, ok := cm.Data["config.yaml"]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s has no config.yaml key", namespace, name)
	}
	cfg, err := policies.ParseConfig([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s: %w", namespace, name, err)
	}
	return cfg, nil
}

// layeredView answers from the input first and from the live cluster when
// the input does not hold the object: "would this cluster admit these
// manifests?". Nodes come from the input when it has any (a what-if
// cluster), otherwise from the live cluster, listed once.
type layeredView struct {
	input policies.ClusterView
	live  kubernetes.Interface

	nodesOnce sync.Once
	nodes     []*corev1.Node
	nodesErr  error
}

var _ policies.ClusterView = (*layeredView)(nil)

// Service implements policies.ClusterView.
func (v *layeredView) Service(ctx context.Context, namespace, name string) (*corev1.Service, bool, error) {
	if svc, found, err := v.input.Service(ctx, namespace, name); err == nil && found {
		return svc, true, nil
	}
	svc, err := v.live.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading Service %s/%s from the cluster: %w", namespace, name, err)
	}
	return svc, true, nil
}

// Nodes implements policies.ClusterView.
func (v *layeredView) Nodes(ctx context.Context) ([]*corev1.Node, error) {
	if nodes, err := v.input.Nodes(ctx); err == nil {
		return nodes, nil
	} else if !errors.Is(err, policies.ErrNoData) {
		return nil, err
	}
	v.nodesOnce.Do(func() {
		list, err := v.live.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			v.nodesErr = fmt.Errorf("listing Nodes in the cluster: %w", err)
			return
		}
		for i := range list.Items {
			v.nodes = append(v.nodes, &list.Items[i])
		}
	})
	return v.nodes, v.nodesErr
}
