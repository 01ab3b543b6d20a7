package app

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// serveTestParse parses serve flags the way the command does and validates
// them, without running the server.
func serveTestParse(t *testing.T, args ...string) (*serveOptions, error) {
	t.Helper()
	o := &serveOptions{}
	cmd := &cobra.Command{}
	o.bindFlags(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	o.drainDefaulted = !cmd.Flags().Changed("shutdown-drain-delay")
	o.complete()
	return o, o.validate()
}

func TestServeFlags(t *testing.T) {
	selfManaged := []string{"--tls-mode=self-managed", "--tls-secret-name=setwarden-tls", "--tls-secret-namespace=setwarden-system",
		"--webhook-config-name=setwarden", "--service-name=setwarden"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o *serveOptions)
	}{
		{
			name: "the defaults serve certificates from files with a 3 MiB body limit and a 5s drain delay",
			check: func(t *testing.T, o *serveOptions) {
				if o.tls.mode != "files" || o.maxRequestBytes != 3<<20 || o.shutdownDrain != 5*time.Second || o.readHeaderTime != 10*time.Second {
					t.Errorf("mode %s, max %d, drain %s, read-header %s", o.tls.mode, o.maxRequestBytes, o.shutdownDrain, o.readHeaderTime)
				}
			},
		},
		{
			name: "self-managed TLS names the Service in both DNS forms and defaults the Service namespace and the Lease name",
			args: selfManaged,
			check: func(t *testing.T, o *serveOptions) {
				want := []string{"setwarden.setwarden-system.svc", "setwarden.setwarden-system.svc.cluster.local"}
				if diff := cmp.Diff(want, o.tls.selfManaged.Policy().DNSNames); diff != "" {
					t.Errorf("DNS names (-want +got):\n%s", diff)
				}
				if o.tls.selfManaged.LeaseName != "setwarden-tls" || o.tls.selfManaged.ServiceNamespace != "setwarden-system" {
					t.Errorf("lease %s, service namespace %s", o.tls.selfManaged.LeaseName, o.tls.selfManaged.ServiceNamespace)
				}
				if o.tls.selfManaged.Policy().CAValidity != 365*24*time.Hour || o.tls.selfManaged.Policy().CertValidity != 90*24*time.Hour || o.tls.selfManaged.Policy().RotateBefore.Fraction != 0.33 {
					t.Errorf("policy %+v", o.tls.selfManaged.Policy())
				}
			},
		},
		{name: "self-managed TLS needs the Secret's name", args: []string{"--tls-mode=self-managed"}, wantErr: "--tls-secret-name is required with --tls-mode=self-managed"},
		{name: "an unknown TLS mode is refused", args: []string{"--tls-mode=acme"}, wantErr: `--tls-mode "acme" is not supported; use files or self-managed`},
		{
			name:    "a rotation window too short to overlap is refused",
			args:    append(append([]string{}, selfManaged...), "--tls-cert-validity=1m", "--tls-propagation-delay=30s"),
			wantErr: "self-managed TLS flags: the serving certificate rotation window",
		},
		{name: "a bad rotate-before is refused", args: append(append([]string{}, selfManaged...), "--tls-rotate-before=soon"), wantErr: `--tls-rotate-before: "soon" is neither`},
		{
			name:    "an explicit drain delay as long as the shutdown timeout is refused",
			args:    []string{"--shutdown-drain-delay=30s"},
			wantErr: "--shutdown-drain-delay (30s) must be shorter than --graceful-shutdown-timeout (30s)",
		},
		{
			name: "the default drain delay gives way to a short shutdown timeout",
			args: []string{"--graceful-shutdown-timeout=4s"},
			check: func(t *testing.T, o *serveOptions) {
				if o.shutdownDrain != 2*time.Second {
					t.Errorf("drain %s, want 2s", o.shutdownDrain)
				}
			},
		},
		{name: "a zero body limit is refused", args: []string{"--max-request-bytes=0"}, wantErr: "--max-request-bytes must be positive, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := serveTestParse(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}
