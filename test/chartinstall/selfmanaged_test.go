package chartinstall

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/google/go-cmp/cmp"

	"github.com/setwarden/setwarden/internal/server/certs"
	"github.com/setwarden/setwarden/test/framework"
)

const (
	// release and releaseNamespace are those of the README's install
	// command, so the chart's names are setwarden's defaults.
	release          = "setwarden"
	releaseNamespace = "setwarden-system"
	serviceDNS       = release + "." + releaseNamespace + ".svc"

	denied         = `admission webhook "validate.setwarden.dev" denied the request: `
	msgServiceName = `spec.serviceName: Required value: set it to a headless Service (clusterIP: None) that selects the pods, so each pod gets a stable DNS name (rule statefulset-service-name)`
	msgClaims      = `spec.volumeClaimTemplates: Required value: add a volumeClaimTemplate so each pod gets a PersistentVolumeClaim that outlives it (or use a Deployment for stateless pods) (rule statefulset-volume-claim-templates)`
	brokenDenial   = denied + `StatefulSet.apps "broken" is invalid: [` + msgServiceName + `, ` + msgClaims + `]`
)

// controlPlaneTolerations are those of the chart's default controlPlaneTaints.
var controlPlaneTolerations = []corev1.Toleration{
	{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: "node-role.kubernetes.io/master", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// TestSelfManagedReleaseAdmits installs the chart in self-managed mode and
// runs the setwarden binary as the Deployment would: the chart's flags and
// ConfigMap, the chart's ServiceAccount and nothing more. The API server
// then reaches it through the chart's webhook configurations and Service,
// and trusts it only through the CA setwarden generated and injected.
func TestSelfManagedReleaseAdmits(t *testing.T) {
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	bin := buildSetwarden(t)
	restrictedNamespace(t, releaseNamespace)
	ensureWorkloadNamespace(t)
	// The same port on the Service and the server, so the ExternalName
	// Service needs no port mapping.
	p := strconv.Itoa(port)
	res := helmInstall(t, release, releaseNamespace, "--set", "webhook.port="+p, "--set", "service.port="+p)
	checkWarnings(t, "helm install", res.Stderr)
	serveLocally(t)

	srv := startChartServer(t, bin, port)
	framework.WaitFor(t, "setwarden to be ready", 60*time.Second, func() bool { return srv.ready(t) })
	var caBundle []byte
	framework.WaitFor(t, "setwarden to fill its Secret and inject the CA bundle", 60*time.Second, func() bool {
		caBundle = secretData(t)[certs.KeyCABundle]
		if len(caBundle) == 0 {
			return false
		}
		for _, got := range caBundles(t, release) {
			if string(got) != string(caBundle) {
				return false
			}
		}
		return true
	})
	t.Logf("ready and injected %s after the server started", time.Since(srv.started).Round(time.Millisecond))

	t.Run("both webhook configurations carry the CA bundle of the chart's Secret", func(t *testing.T) {
		assertCABundles(t, release, caBundle)
	})
	t.Run("the server's certificate names the Service and is verified by the injected CA", func(t *testing.T) {
		assertServingCertificate(t, port, caBundle)
	})
	t.Run("an agent DaemonSet gets the chart's control-plane tolerations", func(t *testing.T) {
		ds := framework.AgentDaemonSet(workloadNamespace)
		if err := k8s.Create(t.Context(), ds, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(controlPlaneTolerations, ds.Spec.Template.Spec.Tolerations); diff != "" {
			t.Errorf("tolerations (-want +got):\n%s", diff)
		}
	})
	t.Run("a StatefulSet without serviceName and claims is denied with both field errors", func(t *testing.T) {
		if err := k8s.Create(t.Context(), framework.BrokenStatefulSet(workloadNamespace), client.DryRunAll); err == nil || err.Error() != brokenDenial {
			t.Errorf("got %v\nwant %s", err, brokenDenial)
		}
	})
	t.Run("a valid Deployment is admitted", func(t *testing.T) {
		if err := k8s.Create(t.Context(), framework.WebDeployment(workloadNamespace), client.DryRunAll); err != nil {
			t.Error(err)
		}
	})
	t.Run("the API server trusts only the injected CA: with another one its call fails verification", func(t *testing.T) {
		assertStrangerCARefused(t, caBundle)
	})
	t.Run("the ServiceAccount may touch only its own objects", func(t *testing.T) {
		assertCanI(t, srv.kubeconfig)
	})
	t.Run("the server made no call outside the chart's RBAC", func(t *testing.T) {
		if lines := framework.Grep(srv.log(t), "forbidden"); lines != "" {
			t.Errorf("the server was refused a call:\n%s", lines)
		}
	})

	helm(t, "uninstall", release, "--namespace", releaseNamespace)
	srv.proc.Kill()
	t.Run("helm uninstall leaves no webhook configuration", assertNoWebhookConfigurations)
	t.Run("after uninstall a StatefulSet setwarden denied is created", assertBrokenStatefulSetCreated)
}

// assertStrangerCARefused swaps the validating webhook's CA bundle for an
// unrelated CA, expects the API server to refuse the server's certificate,
// then puts caBundle back and expects decisions again. The leader does not
// undo the swap in between: it re-checks the bundles only every
// --tls-resync-interval, a minute with the chart's flags.
func assertStrangerCARefused(t *testing.T, caBundle []byte) {
	t.Helper()
	stranger, err := certs.NewCA("stranger", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The API server sees a changed webhook configuration through its own
	// informer, a moment later; and setwarden puts its CA bundle back when
	// it notices. So the stranger bundle is set again before each try.
	var last error
	framework.WaitFor(t, "the API server to refuse setwarden's certificate under a stranger CA bundle", 20*time.Second, func() bool {
		setValidatingCABundle(t, certs.EncodeCerts(stranger.Cert))
		last = k8s.Create(t.Context(), framework.BrokenStatefulSet(workloadNamespace), client.DryRunAll)
		return last != nil && strings.Contains(last.Error(), "x509: certificate signed by unknown authority")
	})
	setValidatingCABundle(t, caBundle)
	framework.WaitFor(t, "the denial to come back with the CA bundle restored", 20*time.Second, func() bool {
		last = k8s.Create(t.Context(), framework.BrokenStatefulSet(workloadNamespace), client.DryRunAll)
		return last != nil && last.Error() == brokenDenial
	})
}

// setValidatingCABundle sets the CA bundle of every validating webhook.
func setValidatingCABundle(t *testing.T, bundle []byte) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		_, v := webhookConfigurations(t, release)
		for i := range v.Webhooks {
			v.Webhooks[i].ClientConfig.CABundle = bundle
		}
		return k8s.Update(t.Context(), v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// serveLocally replaces the chart's Service with an ExternalName for
// localhost: the API server's webhook client then dials localhost on the
// Service port and still verifies the certificate for <svc>.<ns>.svc.
// Switching the type is all; the API server drops the cluster IPs.
func serveLocally(t *testing.T) {
	t.Helper()
	svc := &corev1.Service{}
	if err := k8s.Get(t.Context(), client.ObjectKey{Namespace: releaseNamespace, Name: release}, svc); err != nil {
		t.Fatal(err)
	}
	svc.Spec.Type, svc.Spec.ExternalName = corev1.ServiceTypeExternalName, "localhost"
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs, svc.Spec.IPFamilies, svc.Spec.IPFamilyPolicy = "", nil, nil, nil
	if err := k8s.Update(t.Context(), svc); err != nil {
		t.Fatalf("turning the Service into an ExternalName: %v", err)
	}
}

// chartServer is the setwarden binary run with the chart's Deployment's
// arguments and ConfigMap.
type chartServer struct {
	proc       *framework.Process
	probePort  int
	kubeconfig string
	started    time.Time
}

func buildSetwarden(t *testing.T) string {
	t.Helper()
	start := time.Now()
	bin, err := framework.BuildSetwarden(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built setwarden in %s", time.Since(start).Round(time.Millisecond))
	return bin
}

// startChartServer reads the chart's Deployment and ConfigMap back from the
// API server and starts bin with the container's arguments and
// environment, adapted only where a pod differs from a local process.
func startChartServer(t *testing.T, bin string, port int) *chartServer {
	t.Helper()
	deploy := &appsv1.Deployment{}
	if err := k8s.Get(t.Context(), client.ObjectKey{Namespace: releaseNamespace, Name: release}, deploy); err != nil {
		t.Fatal(err)
	}
	pod := deploy.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", len(pod.Containers))
	}
	container := pod.Containers[0]
	if pod.ServiceAccountName != release {
		t.Fatalf("the Deployment runs as ServiceAccount %q, want %q", pod.ServiceAccountName, release)
	}
	dir := t.TempDir()
	srv := &chartServer{}
	var err error
	if srv.probePort, err = framework.FreePort(); err != nil {
		t.Fatal(err)
	}
	srv.kubeconfig = impersonatingKubeconfig(t, dir, "system:serviceaccount:"+releaseNamespace+":"+pod.ServiceAccountName)
	args := localArgs(t, localArgsInput{
		chartArgs: container.Args, port: port, probePort: srv.probePort, dir: dir, kubeconfig: srv.kubeconfig,
		configMap: configMapMount(t, pod, container),
	})
	for _, env := range container.Env {
		t.Setenv(env.Name, fieldRefValue(t, env))
	}
	t.Logf("setwarden %s", strings.Join(args, " "))
	srv.started = time.Now()
	if srv.proc, err = framework.StartProcess(bin, filepath.Join(dir, "setwarden.log"), args...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.proc.Kill()
		if t.Failed() {
			t.Logf("server log:\n%s", srv.log(t))
		}
	})
	return srv
}

// configMount is where the chart mounts its ConfigMap, and the ConfigMap.
type configMount struct {
	mountPath string
	data      map[string]string
}

// configMapMount finds the container's ConfigMap volume and reads the
// ConfigMap from the API server.
func configMapMount(t *testing.T, pod corev1.PodSpec, container corev1.Container) configMount {
	t.Helper()
	for _, vol := range pod.Volumes {
		if vol.ConfigMap == nil {
			continue
		}
		for _, mount := range container.VolumeMounts {
			if mount.Name != vol.Name {
				continue
			}
			cm := &corev1.ConfigMap{}
			if err := k8s.Get(t.Context(), client.ObjectKey{Namespace: releaseNamespace, Name: vol.ConfigMap.Name}, cm); err != nil {
				t.Fatal(err)
			}
			return configMount{mountPath: mount.MountPath, data: cm.Data}
		}
	}
	t.Fatal("the container mounts no ConfigMap")
	return configMount{}
}

// fieldRefValue is what the kubelet would set an env var from the pod's
// metadata to, for a pod named like the Deployment.
func fieldRefValue(t *testing.T, env corev1.EnvVar) string {
	t.Helper()
	if env.ValueFrom == nil || env.ValueFrom.FieldRef == nil {
		return env.Value
	}
	switch env.ValueFrom.FieldRef.FieldPath {
	case "metadata.name":
		return release + "-local"
	case "metadata.namespace":
		return releaseNamespace
	}
	t.Fatalf("env %s comes from %s, which this test cannot provide", env.Name, env.ValueFrom.FieldRef.FieldPath)
	return ""
}

func (s *chartServer) ready(t *testing.T) bool {
	select {
	case err := <-s.proc.Done():
		t.Fatalf("setwarden exited: %v\n%s", err, s.log(t))
	default:
	}
	return framework.Ready(s.probePort)
}

func (s *chartServer) log(t *testing.T) string { return s.proc.ReadLog(t) }

// impersonatingKubeconfig writes a kubeconfig that acts as user, a
// ServiceAccount, with the groups the API server gives every ServiceAccount.
func impersonatingKubeconfig(t *testing.T, dir, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = user
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"}
	}
	path := filepath.Join(dir, "serviceaccount.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertServingCertificate dials the server as the API server does: it
// trusts only caBundle and expects the Service's name.
func assertServingCertificate(t *testing.T, port int, caBundle []byte) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caBundle) {
		t.Fatal("the CA bundle holds no certificate")
	}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{RootCAs: pool, ServerName: serviceDNS, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to the server, trusting the injected CA, for %s: %v", serviceDNS, err)
	}
	defer conn.Close()
	state := conn.ConnectionState()
	if state.Version != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want 1.3 (the chart's tls.minVersion)", state.Version)
	}
	want := []string{serviceDNS, serviceDNS + ".cluster.local"}
	if got := state.PeerCertificates[0].DNSNames; !slices.Equal(got, want) {
		t.Errorf("serving certificate DNS names %v, want %v", got, want)
	}
}

func secretData(t *testing.T) map[string][]byte {
	t.Helper()
	secret := &corev1.Secret{}
	if err := k8s.Get(t.Context(), client.ObjectKey{Namespace: releaseNamespace, Name: release + "-tls"}, secret); err != nil {
		t.Fatal(err)
	}
	return secret.Data
}
