package policies

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseConfigObjectExemptions(t *testing.T) {
	const head = "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n"
	tests := []struct {
		name    string
		config  string
		wantErr string
	}{
		{
			name:   "an object exemption with kind, namespace, name, rules and reason is accepted",
			config: head + "exemptions:\n  objects:\n    - {kind: StatefulSet, namespace: vendor, name: redis, rules: [statefulset-service-headless], reason: the vendor chart's Service}\n",
		},
		{
			name:   "an object exemption without rules is accepted",
			config: head + "exemptions:\n  objects:\n    - {kind: DaemonSet, namespace: monitoring, name: node-exporter, reason: runs on every node by design}\n",
		},
		{
			name:    "an exemption without a reason is refused, naming the object",
			config:  head + "exemptions:\n  objects:\n    - {kind: StatefulSet, namespace: vendor, name: redis}\n",
			wantErr: "invalid PolicyConfig: exemptions.objects[0].reason: Required value: say why StatefulSet vendor/redis is exempt",
		},
		{
			name:    "an unknown kind is refused with the workload kinds",
			config:  head + "exemptions:\n  objects:\n    - {kind: Statefulset, namespace: vendor, name: redis, reason: vendor}\n",
			wantErr: `invalid PolicyConfig: exemptions.objects[0].kind: Unsupported value: "Statefulset": supported values: "Pod", "ReplicationController", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"`,
		},
		{
			name:    "an unknown rule ID in an exemption is refused with the closest rule ID",
			config:  head + "exemptions:\n  objects:\n    - {kind: StatefulSet, namespace: vendor, name: redis, rules: [statefulset-service-headles], reason: vendor}\n",
			wantErr: `invalid PolicyConfig: exemptions.objects[0].rules[0]: Invalid value: "statefulset-service-headles": unknown rule; did you mean "statefulset-service-headless"?`,
		},
		{
			name:    "an exemption without namespace is refused",
			config:  head + "exemptions:\n  objects:\n    - {kind: StatefulSet, name: redis, reason: vendor}\n",
			wantErr: "invalid PolicyConfig: exemptions.objects[0].namespace: Required value: the namespace of StatefulSet redis",
		},
		{
			name:    "a name no object can have is refused",
			config:  head + "exemptions:\n  objects:\n    - {kind: StatefulSet, namespace: vendor, name: Redis_0, reason: vendor}\n",
			wantErr: `invalid PolicyConfig: exemptions.objects[0].name: Invalid value: "Redis_0": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		},
		{
			name:    "an unknown key of an exemption is refused",
			config:  head + "exemptions:\n  objects:\n    - {kind: StatefulSet, namespace: vendor, nam: redis, reason: vendor}\n",
			wantErr: `invalid PolicyConfig: unknown field "exemptions.objects[0].nam"`,
		},
		{
			name:    "an unknown rule ID under rules is refused with the closest rule ID",
			config:  head + "rules:\n  agent-toleration: {action: Warn}\n",
			wantErr: `invalid PolicyConfig: rules[agent-toleration]: Invalid value: "agent-toleration": unknown rule; did you mean "agent-tolerations"?`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.config))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("ParseConfig() error = %q\nwant %q", gotErr, tt.wantErr)
			}
		})
	}
}

func TestObjectExemptions(t *testing.T) {
	const config = `apiVersion: setwarden.dev/v1alpha1
kind: PolicyConfig
exemptions:
  objects:
    - {kind: StatefulSet, namespace: vendor, name: redis, rules: [statefulset-service-name], reason: the vendor chart sets no serviceName}
    - {kind: StatefulSet, namespace: vendor, name: kafka, reason: vendored as is}
`
	cfg, err := ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	engine := NewEngine(cfg)
	// A StatefulSet without serviceName and without volumeClaimTemplates: two Deny findings.
	sts := func(namespace, name string) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	}
	tests := []struct {
		name         string
		obj          *appsv1.StatefulSet
		wantFindings []string
		wantExempted []string
	}{
		{"an exemption with rules exempts the object from those rules only", sts("vendor", "redis"),
			[]string{RuleStatefulSetVolumeClaimTmpls}, []string{RuleStatefulSetServiceName}},
		{"an exemption without rules exempts the object from every rule", sts("vendor", "kafka"),
			nil, []string{RuleStatefulSetServiceName, RuleStatefulSetVolumeClaimTmpls}},
		{"the same name in another namespace is not exempt", sts("shop", "redis"),
			[]string{RuleStatefulSetServiceName, RuleStatefulSetVolumeClaimTmpls}, nil},
		{"another name in the namespace is not exempt", sts("vendor", "mysql"),
			[]string{RuleStatefulSetServiceName, RuleStatefulSetVolumeClaimTmpls}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := engine.Evaluate(t.Context(), Request{Object: tt.obj, Mode: ModeOffline})
			if got := findingRules(report.Findings); !slices.Equal(got, tt.wantFindings) {
				t.Errorf("findings = %q, want %q", got, tt.wantFindings)
			}
			if got := findingRules(report.Exempted); !slices.Equal(got, tt.wantExempted) {
				t.Errorf("exempted = %q, want %q", got, tt.wantExempted)
			}
		})
	}
}

func findingRules(findings []Finding) []string {
	var rules []string
	for _, f := range findings {
		rules = append(rules, f.Rule)
	}
	return rules
}
