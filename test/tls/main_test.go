// Package tls proves setwarden's self-managed TLS on a real kube-apiserver:
// two setwarden processes, run with only the RBAC the chart grants, share a
// certificate Secret that the Lease holder fills and rotates, and the API
// server reaches them through a Service and verifies their certificate
// against the CA bundle setwarden injected. The Service is an ExternalName
// for localhost, so the API server connects to a local round-robin proxy in
// front of both processes while checking the <svc>.<ns>.svc name.
package tls

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/setwarden/setwarden/test/framework"
	"github.com/setwarden/setwarden/test/perf"
)

const (
	ns             = framework.Namespace
	name           = "setwarden"
	secretName     = "setwarden-tls"
	leaseName      = "setwarden-tls"
	serviceAccount = "setwarden"
	// testNamespace holds the objects the tests submit.
	testNamespace = "tls-e2e"
	// maxRequestBytes is the --max-request-bytes of the servers.
	maxRequestBytes = 1 << 20
	// readHeaderTimeout is the --read-header-timeout of the servers.
	readHeaderTimeout = 5 * time.Second
	// metricsAuthRole grants what --metrics-secure needs.
	metricsAuthRole = "setwarden-metrics-auth"
)

var (
	env   *framework.Env
	proxy *framework.TCPProxy
	// servers are the two setwarden processes, with their ports.
	servers [2]*server
	// setwardenBin is the binary the servers run, to restart them.
	setwardenBin string
)

type server struct {
	identity   string
	port       int
	probePort  int
	proc       *framework.Process
	kubeconfig string
	// starts counts the times the server was started, to keep each run's log.
	starts int
	// extraArgs are appended to the serve flags.
	extraArgs []string
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tls e2e: %v\n", err)
		code = 1
	}
	for _, s := range servers {
		if s != nil && s.proc != nil {
			s.proc.Kill()
			if code != 0 {
				fmt.Fprintf(os.Stderr, "tls e2e: %s log: %s (kept with SETWARDEN_E2E_KEEP=1)\n", s.identity, s.proc.Log)
			}
		}
	}
	if proxy != nil {
		_ = proxy.Close()
	}
	if env != nil {
		_ = env.Stop()
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	var err error
	if env, err = framework.Start(framework.Options{NoWebhooks: true}); err != nil {
		return 1, err
	}
	if setwardenBin, err = framework.BuildSetwarden(env.Dir()); err != nil {
		return 1, err
	}
	servicePort, err := framework.FreePort()
	if err != nil {
		return 1, err
	}
	if err := install(context.Background(), servicePort); err != nil {
		return 1, err
	}
	kubeconfig, err := env.ImpersonatingKubeconfig("setwarden.kubeconfig", "system:serviceaccount:"+ns+":"+serviceAccount,
		[]string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"})
	if err != nil {
		return 1, err
	}
	var backends []string
	for i, id := range []string{"replica-a", "replica-b"} {
		s := &server{identity: id, kubeconfig: kubeconfig}
		if s.port, err = framework.FreePort(); err != nil {
			return 1, err
		}
		if s.probePort, err = framework.FreePort(); err != nil {
			return 1, err
		}
		servers[i] = s
		backends = append(backends, "127.0.0.1:"+strconv.Itoa(s.port))
	}
	if proxy, err = framework.StartTCPProxy("127.0.0.1:"+strconv.Itoa(servicePort), backends...); err != nil {
		return 1, err
	}
	for _, s := range servers {
		if err := s.start(); err != nil {
			return 1, err
		}
	}
	return m.Run(), nil
}

// args are the flags of `setwarden serve`, as the chart passes them, with
// certificate lifetimes short enough to rotate many times during a test: a
// serving certificate is renewed every 7.2s (40% before the end of its 12s)
// and the CA every 18s. The 40% keeps the renewal window (4.8s) over twice
// the propagation delay, which Policy.Validate requires.
func (s *server) args() []string {
	return []string{"serve",
		"--kubeconfig", s.kubeconfig,
		"--host", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(s.probePort),
		"--tls-mode", "self-managed",
		"--tls-secret-name", secretName,
		"--tls-secret-namespace", ns,
		"--tls-lease-name", leaseName,
		"--webhook-config-name", name,
		"--service-name", name,
		"--tls-ca-validity", "30s",
		"--tls-cert-validity", "12s",
		"--tls-rotate-before", "40%",
		"--tls-propagation-delay", "2s",
		"--tls-resync-interval", "5s",
		"--tls-leader-identity", s.identity,
		"--max-request-bytes", strconv.Itoa(maxRequestBytes),
		// Go's server also bounds TLS handshakes by it: 5s leaves room for
		// the bursts of handshakes of the rotation test on two busy cores.
		"--read-header-timeout", readHeaderTimeout.String(),
		"--shutdown-drain-delay", "2s",
		"--graceful-shutdown-timeout", "10s",
		"--zap-log-level", "info",
	}
}

// start runs the server; a restart logs to a new file, so each run's log
// can be checked on its own.
func (s *server) start() error {
	s.starts++
	log := s.identity + ".log"
	if s.starts > 1 {
		log = fmt.Sprintf("%s-%d.log", s.identity, s.starts)
	}
	var err error
	s.proc, err = framework.StartProcess(setwardenBin, filepath.Join(env.Dir(), log), append(s.args(), s.extraArgs...)...)
	return err
}

// install creates what the chart creates in self-managed mode: the empty
// Secret, the Lease, the RBAC, the Service (here an ExternalName for
// localhost on the proxy's port) and the webhook configurations without a
// CA bundle; and a namespace for the test objects.
func install(ctx context.Context, servicePort int) error {
	mutating, validating, err := framework.LoadWebhookConfigurations()
	if err != nil {
		return err
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}},
		// The load generator's request mix names this headless Service.
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: perf.MixNamespace}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: perf.MixNamespace, Name: perf.MixService}, Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app.kubernetes.io/name": "db"},
			Ports: []corev1.ServicePort{{Port: 5432}},
		}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secretName}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: {}, corev1.TLSPrivateKeyKey: {}}},
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: leaseName}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeExternalName, ExternalName: "localhost",
			Ports: []corev1.ServicePort{{Name: "https", Port: int32(servicePort)}},
		}},
	}
	objs = append(objs, rbac()...)
	for _, m := range mutating {
		for i := range m.Webhooks {
			m.Webhooks[i].ClientConfig.Service.Port = ptr(int32(servicePort))
		}
		objs = append(objs, m)
	}
	for _, v := range validating {
		for i := range v.Webhooks {
			v.Webhooks[i].ClientConfig.Service.Port = ptr(int32(servicePort))
		}
		objs = append(objs, v)
	}
	for _, obj := range objs {
		if err := env.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// rbac is the least the server needs in self-managed mode; the servers run
// impersonating the ServiceAccount, so any other call is refused.
func rbac() []client.Object {
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: serviceAccount, Namespace: ns}}
	return []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{admissionregistrationv1.GroupName}, Resources: []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"},
				ResourceNames: []string{name}, Verbs: []string{"get", "update", "patch"}},
		}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{secretName}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
			{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, ResourceNames: []string{leaseName}, Verbs: []string{"get", "update", "patch"}},
		}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}},
		// Only with --metrics-secure: the API server checks each scraper's
		// token and its right to get /metrics.
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: metricsAuthRole}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{authenticationv1.GroupName}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
			{APIGroups: []string{authorizationv1.GroupName}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
		}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: metricsAuthRole}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsAuthRole}},
	}
}

func ptr[T any](v T) *T { return &v }
