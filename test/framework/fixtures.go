package framework

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WaitFor polls cond every 100 ms until it holds, and fails the test when
// timeout passes first.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Ready reports whether the setwarden listening for probes on port answers
// /readyz with 200.
func Ready(probePort int) bool {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(probePort) + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// ReadLog returns what the process has logged so far.
func (p *Process) ReadLog(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Grep returns the lines of log that contain word, whatever their case,
// joined by newlines: "" when none does. Tests use it to quote the lines
// of a server log that show a refused call.
func Grep(log, word string) string {
	word = strings.ToLower(word)
	var out []string
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(strings.ToLower(line), word) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// PodTemplate is a minimal pod template labelled app=app.
func PodTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: app, Image: "registry.example/" + app + ":1.0"}}},
	}
}

// BrokenStatefulSet "broken" has neither a serviceName nor
// volumeClaimTemplates, so setwarden denies it.
func BrokenStatefulSet(namespace string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: namespace},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "broken"}},
			Template: PodTemplate("broken"),
		},
	}
}

// WebDeployment "web" breaks no rule.
func WebDeployment(namespace string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: PodTemplate("web"),
		},
	}
}

// AgentDaemonSet "agent" carries the chart's default agent label and no
// tolerations, so the mutating webhook adds the control-plane ones.
func AgentDaemonSet(namespace string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: namespace, Labels: map[string]string{"setwarden.dev/agent": "true"}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: PodTemplate("agent"),
		},
	}
}
