package native

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
)

// The admission configurations the test moves through, as two probe
// objects in namespace "probe" show them: a StatefulSet without a
// serviceName and a bare agent DaemonSet.
const (
	stateNative            = "statefulset denied by a policy, daemonset patched"
	stateNativeWarn        = "statefulset warned by a policy, daemonset warned by a policy"
	stateNone              = "statefulset admitted, daemonset admitted as sent"
	stateWebhooks          = "statefulset denied by the webhook, daemonset patched"
	stateValidatingWebhook = "statefulset denied by the webhook, daemonset denied by the webhook"
)

// prober tells which admission configuration the API server applies.
type prober struct {
	c   client.Client
	rec *framework.WarningRecorder
}

func newProber(t *testing.T, cfg *rest.Config) *prober {
	t.Helper()
	p := &prober{rec: &framework.WarningRecorder{}}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandlerWithContext = p.rec
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.c = c
	return p
}

// await waits until the API server applies the configuration want, then
// a little longer, so that every policy of a change is in effect.
func (p *prober) await(t *testing.T, what, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if last = p.state(t); last == want {
			time.Sleep(2 * time.Second)
			if last = p.state(t); last == want {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: the API server still applies %q, not %q", what, last, want)
}

func (p *prober) state(t *testing.T) string {
	t.Helper()
	sts := framework.BrokenStatefulSet("probe")
	sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{claim()}
	stsState := p.verdict(t, sts)
	ds := framework.AgentDaemonSet("probe")
	dsState := p.verdict(t, ds)
	if dsState == "admitted" && len(ds.Spec.Template.Spec.Tolerations) > 0 {
		dsState = "patched"
	}
	switch [2]string{stsState, dsState} {
	case [2]string{"policy denial", "patched"}:
		return stateNative
	case [2]string{"policy warning", "policy warning"}:
		return stateNativeWarn
	case [2]string{"admitted", "admitted"}:
		return stateNone
	case [2]string{"webhook denial", "patched"}:
		return stateWebhooks
	case [2]string{"webhook denial", "webhook denial"}:
		return stateValidatingWebhook
	}
	return stsState + " / " + dsState
}

func (p *prober) verdict(t *testing.T, obj client.Object) string {
	t.Helper()
	p.rec.Take()
	err := p.c.Create(t.Context(), obj, client.DryRunAll)
	var status apierrors.APIStatus
	switch {
	case err == nil:
		for _, w := range p.rec.Take() {
			if nativeWarning.MatchString(w) {
				return "policy warning"
			}
		}
		return "admitted"
	case errors.As(err, &status) && nativeDenial.MatchString(status.Status().Message):
		return "policy denial"
	case errors.As(err, &status) && webhookDenial.MatchString(status.Status().Message):
		return "webhook denial"
	}
	return err.Error()
}
