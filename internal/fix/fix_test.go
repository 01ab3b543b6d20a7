package fix

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/setwarden/setwarden/policies"
)

const (
	fixService = `# the Service stays byte for byte, odd spacing included
apiVersion: v1
kind:   Service
metadata: {name: web}
`
	// fixAgent is written in the "wide" sequence style, with comments.
	fixAgent = `# Source: agent/templates/daemonset.yaml
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-agent # the agent
  namespace: monitoring
  labels:
    setwarden.dev/agent: "true"
spec:
  selector:
    matchLabels:
      app: node-agent
  template:
    metadata:
      labels:
        app: node-agent
    spec:
      # tolerate not-ready nodes
      tolerations:
        - key: node.kubernetes.io/not-ready
          operator: Exists
          effect: NoExecute
      containers:
        - name: agent
          image: agent:1.0 # pinned
`
	fixAgentFixed = `# Source: agent/templates/daemonset.yaml
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-agent # the agent
  namespace: monitoring
  labels:
    setwarden.dev/agent: "true"
spec:
  selector:
    matchLabels:
      app: node-agent
  template:
    metadata:
      labels:
        app: node-agent
    spec:
      # tolerate not-ready nodes
      tolerations:
        - key: node.kubernetes.io/not-ready
          operator: Exists
          effect: NoExecute
        - key: node-role.kubernetes.io/control-plane
          operator: Exists
          effect: NoSchedule
        - key: node-role.kubernetes.io/master
          operator: Exists
          effect: NoSchedule
      containers:
        - name: agent
          image: agent:1.0 # pinned
`
	// fixCompactAgent uses the "compact" sequence style and no tolerations.
	fixCompactAgent = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: logs
  labels: {setwarden.dev/agent: "true"}
spec:
  template:
    spec:
      containers:
      - name: fluent-bit
        image: fluent-bit:4
`
	fixCompactAgentFixed = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: logs
  labels: {setwarden.dev/agent: "true"}
spec:
  template:
    spec:
      containers:
      - name: fluent-bit
        image: fluent-bit:4
      tolerations:
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      - key: node-role.kubernetes.io/master
        operator: Exists
        effect: NoSchedule
`
	// fixNotAgent is a DaemonSet without the agent label.
	fixNotAgent = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: csi}
spec: {template: {spec: {containers: [{name: c, image: c}]}}}
`
)

func TestFixStream(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		want        string
		wantChanges []string
	}{
		{
			name:        "an agent DaemonSet gains the control-plane tolerations after its own, keeping comments, order and the wide style",
			in:          fixAgent,
			want:        fixAgentFixed,
			wantChanges: []string{"2 monitoring/node-agent 2"},
		},
		{
			name:        "a compact-style DaemonSet without tolerations gets the field, in the compact style",
			in:          fixCompactAgent,
			want:        fixCompactAgentFixed,
			wantChanges: []string{"1 default/logs 2"},
		},
		{
			name:        "untouched documents and separators stay byte for byte around a fixed one",
			in:          fixService + "---   # separator comment\n" + fixAgent + "--- \n" + fixNotAgent + "---\n",
			want:        fixService + "---   # separator comment\n" + fixAgentFixed + "--- \n" + fixNotAgent + "---\n",
			wantChanges: []string{"7 monitoring/node-agent 2"},
		},
		{
			name:        "a document after a \"...\" end marker is fixed too, as the check sees it",
			in:          fixService + "...\n" + fixAgent,
			want:        fixService + "...\n" + fixAgentFixed,
			wantChanges: []string{"7 monitoring/node-agent 2"},
		},
		{
			name: "a stream with nothing to fix is returned as it is",
			in:   fixService + "---\n" + fixNotAgent + "---\nkind: [broken\n",
			want: fixService + "---\n" + fixNotAgent + "---\nkind: [broken\n",
		},
		{
			name: "an agent that is already fixed is left alone",
			in:   fixAgentFixed,
			want: fixAgentFixed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changes, err := Stream(policies.NewEngine(nil), []byte(tt.in))
			if err != nil {
				t.Fatalf("Stream() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Stream() output mismatch (-want +got):\n%s", diff)
			}
			var gotChanges []string
			for _, c := range changes {
				gotChanges = append(gotChanges, fmt.Sprintf("%d %s/%s %d", c.Line, c.Namespace, c.Name, len(c.Added)))
			}
			if diff := cmp.Diff(tt.wantChanges, gotChanges); diff != "" {
				t.Errorf("changes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFixIsIdempotent fixes a stream twice: the second pass finds nothing,
// which is also what checking the fixed stream reports (no Mutate finding).
func TestFixIsIdempotent(t *testing.T) {
	engine := policies.NewEngine(nil)
	once, _, err := Stream(engine, []byte(fixService+"---\n"+fixAgent+"---\n"+fixCompactAgent))
	if err != nil {
		t.Fatal(err)
	}
	twice, changes, err := Stream(engine, once)
	if err != nil || len(changes) != 0 || string(twice) != string(once) {
		t.Errorf("second pass = %d changes, err %v, output changed %v; want nothing to fix", len(changes), err, string(twice) != string(once))
	}
}
