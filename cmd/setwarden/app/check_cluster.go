package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/setwarden/setwarden/policies"
)

// clusterOptions are check's flags for reading a live cluster: read-only
// lookups of Services and Nodes, and the installed chart's PolicyConfig.
type clusterOptions struct {
	enabled        bool
	kubeconfig     string
	context        string
	configFromLive bool
	namespace      string
	configMap      string
}

// newClient connects to the cluster of --kubeconfig and --context, with
// kubectl's loading rules.
func (c *clusterOptions) newClient() (kubernetes.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: c.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to read: %w", err)
	}
	cfg.UserAgent = "setwarden-check"
	return kubernetes.NewForConfig(cfg)
}

// configFromCluster reads the PolicyConfig of the installed chart.
func (c *clusterOptions) configFromCluster(ctx context.Context, cs kubernetes.Interface) (*policies.Config, error) {
	cm, err := cs.CoreV1().ConfigMaps(c.namespace).Get(ctx, c.configMap, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the installed PolicyConfig (ConfigMap %s/%s; set --setwarden-namespace and --setwarden-configmap): %w", c.namespace, c.configMap, err)
	}
	data, ok := cm.Data["config.yaml"]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s has no config.yaml key", c.namespace, c.configMap)
	}
	cfg, err := policies.ParseConfig([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s: %w", c.namespace, c.configMap, err)
	}
	return cfg, nil
}

// layeredView answers from the input first and from the live cluster when
// the input does not hold the object: "would this cluster admit these
// manifests?". Nodes come from the input when it has any (a what-if
// cluster), otherwise from the live cluster, listed once.
type layeredView struct {
	ctx   context.Context
	input policies.ClusterView
	live  kubernetes.Interface

	nodesOnce sync.Once
	nodes     []*corev1.Node
	nodesErr  error
}

var _ policies.ClusterView = (*layeredView)(nil)

// Service implements policies.ClusterView.
func (v *layeredView) Service(namespace, name string) (*corev1.Service, bool, error) {
	if svc, found, err := v.input.Service(namespace, name); err == nil && found {
		return svc, true, nil
	}
	svc, err := v.live.CoreV1().Services(namespace).Get(v.ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading Service %s/%s from the cluster: %w", namespace, name, err)
	}
	return svc, true, nil
}

// Nodes implements policies.ClusterView.
func (v *layeredView) Nodes() ([]*corev1.Node, error) {
	if nodes, err := v.input.Nodes(); err == nil {
		return nodes, nil
	} else if !errors.Is(err, policies.ErrNoData) {
		return nil, err
	}
	v.nodesOnce.Do(func() {
		list, err := v.live.CoreV1().Nodes().List(v.ctx, metav1.ListOptions{})
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
