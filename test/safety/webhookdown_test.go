package safety

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/internal/server/certs"
	"github.com/setwarden/setwarden/test/framework"
)

// downWebhookHost is the host the webhook configurations point at while
// setwarden is down; the port is picked at install time.
const downWebhookHost = "127.0.0.1"

// downEnv is an API server with setwarden's webhook configurations, as the
// chart renders them (validating: failurePolicy Fail), installed and
// pointing at a localhost port where nothing listens: setwarden is down.
type downEnv struct {
	*framework.Env
	// URL is where the validating webhook points, such as
	// https://127.0.0.1:40123/validate.
	URL string
	// Addr is the closed host:port.
	Addr string
}

var theDownEnv *downEnv

// webhookDown returns the shared environment in which setwarden is down.
func webhookDown(t *testing.T) *downEnv {
	t.Helper()
	env := sharedEnv(t, "webhook-down", func() (*framework.Env, error) {
		env, err := framework.Start(framework.Options{NoWebhooks: true})
		if err != nil {
			return nil, err
		}
		d, err := installDownWebhooks(env)
		if err != nil {
			_ = env.Stop()
			return nil, err
		}
		theDownEnv = d
		return env, nil
	})
	if theDownEnv == nil || theDownEnv.Env != env {
		t.Fatal("the webhook-down environment was not set up")
	}
	return theDownEnv
}

// installDownWebhooks installs the chart's webhook configurations pointed
// at a closed localhost port, with a CA bundle nobody serves with, and
// waits until the API server enforces them.
func installDownWebhooks(env *framework.Env) (*downEnv, error) {
	port, err := closedPort()
	if err != nil {
		return nil, err
	}
	caPEM, err := throwawayCA()
	if err != nil {
		return nil, err
	}
	mutating, validating, err := framework.LoadWebhookConfigurations()
	if err != nil {
		return nil, err
	}
	point := func(cc *admissionregistrationv1.WebhookClientConfig) {
		url := fmt.Sprintf("https://%s:%d%s", downWebhookHost, port, *cc.Service.Path)
		cc.URL, cc.Service, cc.CABundle = &url, nil, caPEM
	}
	ctx := context.Background()
	for _, m := range mutating {
		for i := range m.Webhooks {
			point(&m.Webhooks[i].ClientConfig)
		}
		if err := env.Client.Create(ctx, m); err != nil {
			return nil, fmt.Errorf("creating %s: %w", m.Name, err)
		}
	}
	d := &downEnv{Env: env, Addr: net.JoinHostPort(downWebhookHost, fmt.Sprint(port))}
	for _, v := range validating {
		for i := range v.Webhooks {
			// The whole point: a down webhook that fails open proves nothing.
			if fp := v.Webhooks[i].FailurePolicy; fp == nil || *fp != admissionregistrationv1.Fail {
				return nil, fmt.Errorf("webhooks.yaml: %s must have failurePolicy: Fail", v.Webhooks[i].Name)
			}
			point(&v.Webhooks[i].ClientConfig)
			d.URL = *v.Webhooks[i].ClientConfig.URL
		}
		if err := env.Client.Create(ctx, v); err != nil {
			return nil, fmt.Errorf("creating %s: %w", v.Name, err)
		}
	}
	return d, d.waitEnforced(ctx)
}

// waitEnforced waits until the API server has loaded the configurations,
// which it does asynchronously: until then, the fail-closed assertions and
// the "still works" ones would prove nothing.
func (d *downEnv) waitEnforced(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "safety-probe"}}
	if err := d.Client.Create(ctx, ns); err != nil {
		return err
	}
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		err = d.Client.Create(ctx, brokenStatefulSet(ns.Name, "probe"), client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "failed calling webhook") {
			return nil
		}
	}
	return fmt.Errorf("the API server did not enforce the webhook configurations within 30s (last: %v)", err)
}

// closedPort returns a localhost port nothing listens on.
func closedPort() (int, error) {
	l, err := net.Listen("tcp", downWebhookHost+":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// throwawayCA returns the PEM of a self-signed CA whose key is dropped:
// a valid caBundle that no server can present a certificate for.
func throwawayCA() ([]byte, error) {
	ca, err := certs.NewCA("setwarden-safety-test-ca", time.Now(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	return certs.EncodeCerts(ca.Cert), nil
}

// brokenStatefulSet is framework.BrokenStatefulSet named and labelled
// name: it violates setwarden's Deny rules (no serviceName, no claim
// templates), so only a webhook that is not called can let it through.
func brokenStatefulSet(ns, name string) *appsv1.StatefulSet {
	sts := framework.BrokenStatefulSet(ns)
	sts.Name = name
	sts.Spec.Selector.MatchLabels = map[string]string{"app": name}
	sts.Spec.Template = framework.PodTemplate(name)
	return sts
}
