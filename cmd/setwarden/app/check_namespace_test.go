package app

import (
	"strings"
	"testing"
)

func TestCheckNamespace(t *testing.T) {
	sts := checkManifest(t, "redis-statefulset.yaml")
	svc := checkManifest(t, "redis-headless-service.yaml")
	noServiceName := checkManifest(t, "redis-statefulset-without-service-name.yaml")
	agent := strings.Replace(checkManifest(t, "agent-without-control-plane-tolerations.yaml"), "  namespace: logging\n", "", 1)
	svcInOther := strings.Replace(svc, "  name: redis\n", "  name: redis\n  namespace: other\n", 1)
	legacyConfig := "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\nrules:\n  statefulset-service-name:\n    namespaces: {legacy: Warn}\n"
	tests := []checkCase{
		{
			name:       "without -n an object without namespace is reported in default",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "sts.yaml"},
			wantCode:   ExitDenied,
			wantStdout: []string{"Deny statefulset-service-name StatefulSet.apps default/redis: spec.serviceName: Required value"},
		},
		{
			name:       "-n reports an object without namespace in that namespace",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "-n", "shop", "sts.yaml"},
			wantCode:   ExitDenied,
			wantStdout: []string{"Deny statefulset-service-name StatefulSet.apps shop/redis: spec.serviceName: Required value"},
		},
		{
			name:       "-n applies the per-namespace action of that namespace",
			files:      map[string]string{"sts.yaml": noServiceName, "policy.yaml": legacyConfig},
			args:       []string{"check", "--config", "policy.yaml", "--namespace", "legacy", "sts.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"Warn statefulset-service-name StatefulSet.apps legacy/redis: spec.serviceName: Required value"},
		},
		{
			name:       "-n applies the namespace exemptions: kube-system is exempt by default",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "-n", "kube-system", "sts.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"findings: Deny 0, Warn 0, Audit 0, Mutate 0", "exempted: statefulset-service-name 1"},
		},
		{
			name:       "a StatefulSet without namespace finds its Service without namespace in the -n namespace",
			files:      map[string]string{"sts.yaml": sts, "svc.yaml": svc},
			args:       []string{"check", "-n", "shop", "sts.yaml", "svc.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"objects: 2 read, 1 evaluated", "findings: Deny 0, Warn 0, Audit 0, Mutate 0"},
		},
		{
			name:       "a Service in another namespace is not the governing Service of a StatefulSet judged in -n",
			files:      map[string]string{"sts.yaml": sts, "svc.yaml": svcInOther},
			args:       []string{"check", "-n", "shop", "sts.yaml", "svc.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"Warn statefulset-service-missing StatefulSet.apps shop/redis: spec.serviceName: Not found: \"redis\""},
		},
		{
			name:       "an object that names its namespace keeps it",
			files:      map[string]string{"sts.yaml": strings.Replace(noServiceName, "  name: redis\n", "  name: redis\n  namespace: cache\n", 1)},
			args:       []string{"check", "-n", "shop", "sts.yaml"},
			wantCode:   ExitDenied,
			wantStdout: []string{"Deny statefulset-service-name StatefulSet.apps cache/redis"},
		},
		{
			name:       "--fix judges an agent without namespace in -n, and leaves one in an exempt namespace alone",
			files:      map[string]string{"ds.yaml": agent},
			args:       []string{"check", "--fix", "--diff", "-n", "kube-system", "ds.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"exempted: agent-tolerations 2"},
		},
		{
			name:       "--fix names the -n namespace in its log",
			files:      map[string]string{"ds.yaml": agent},
			args:       []string{"check", "--fix", "-n", "logging", "ds.yaml"},
			wantCode:   ExitOK,
			wantStderr: []string{"ds.yaml:2: fixed DaemonSet.apps logging/logs: added tolerations"},
		},
		{
			name:       "an invalid namespace is a usage error",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "-n", "Shop_1", "sts.yaml"},
			wantCode:   ExitUsage,
			wantStderr: []string{"Error: --namespace \"Shop_1\": a lowercase RFC 1123 label must consist of"},
		},
	}
	runCheckCases(t, tests)
}
