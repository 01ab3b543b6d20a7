package framework

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	utilversion "k8s.io/apimachinery/pkg/util/version"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Helm returns the path of the helm binary that hack/build-tools.sh builds
// next to the API server's binaries.
func Helm() string { return filepath.Join(AssetsDir(), "helm") }

// ChartDir returns the directory of setwarden's Helm chart.
func ChartDir() string { return filepath.Join(RepoRoot(), "charts", "setwarden") }

// HelmResult is what one helm command printed.
type HelmResult struct {
	// Stdout is helm's standard output.
	Stdout string
	// Stderr is helm's standard error, where client-go prints the API
	// server's warnings.
	Stderr string
}

// RunHelm runs helm with args against the cluster of kubeconfig. home is a
// private directory for helm's cache, configuration and data, so no user
// repositories or plugins leak in. A non-zero exit is an error that carries
// helm's standard error.
func RunHelm(ctx context.Context, kubeconfig, home string, args ...string) (HelmResult, error) {
	if _, err := os.Stat(Helm()); err != nil {
		return HelmResult{}, fmt.Errorf("helm not found in %s: run `make tools` (hack/build-tools.sh) to build it", AssetsDir())
	}
	cmd := exec.CommandContext(ctx, Helm(), append(args, "--kubeconfig", kubeconfig)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := HelmResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if err != nil {
		return res, fmt.Errorf("helm %v: %w: %s", args, err, res.Stderr)
	}
	return res, nil
}

// VersionProxy stands between helm and the API server and passes every
// request through with the administrator's credentials, except GET /version,
// which it answers with a semantic version. The harness builds
// kube-apiserver without version ldflags, so it reports
// "v0.0.0-master+$Format:%H$", which helm cannot parse and refuses against
// the chart's kubeVersion; the proxy reports v<major>.<minor>.0 from the
// same server's major and minor instead. Admission, validation and warnings
// are the real API server's.
type VersionProxy struct {
	// Kubeconfig is a kubeconfig file that reaches the API server through
	// the proxy.
	Kubeconfig string
	// Version is the gitVersion the proxy reports.
	Version string
	srv     *http.Server
}

// StartVersionProxy proxies the API server of cfg on a free local port and
// writes a kubeconfig for it to kubeconfigPath.
func StartVersionProxy(cfg *rest.Config, kubeconfigPath string) (*VersionProxy, error) {
	info, err := serverVersion(cfg)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     transport,
		FlushInterval: -1,
	}
	mux := http.NewServeMux()
	mux.Handle("/", proxy)
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &VersionProxy{Kubeconfig: kubeconfigPath, Version: info.GitVersion,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["proxy"] = &clientcmdapi.Cluster{Server: "http://" + ln.Addr().String()}
	kc.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	kc.CurrentContext = "proxy"
	if err := clientcmd.WriteToFile(*kc, kubeconfigPath); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// serverVersion returns the API server's version, with a gitVersion helm
// can parse.
func serverVersion(cfg *rest.Config) (*apimachineryversion.Info, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return nil, err
	}
	if _, err := utilversion.ParseSemantic(info.GitVersion); err == nil {
		return info, nil
	}
	v, err := utilversion.ParseGeneric(info.Major + "." + strings.TrimSuffix(info.Minor, "+"))
	if err != nil {
		return nil, fmt.Errorf("API server version %q (major %q, minor %q): %w", info.GitVersion, info.Major, info.Minor, err)
	}
	info.GitVersion = fmt.Sprintf("v%d.%d.0", v.Major(), v.Minor())
	return info, nil
}

// Close stops the proxy.
func (p *VersionProxy) Close() error { return p.srv.Close() }
