package fix

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/setwarden/setwarden/policies"
)

func TestFixStream(t *testing.T) {
	svc := fixManifest(t, "service-with-odd-spacing.yaml")
	agentFixed := fixManifest(t, "agent-wide-style-fixed.yaml")
	agent := fixManifest(t, "agent-wide-style.yaml")
	compactAgentFixed := fixManifest(t, "agent-compact-style-fixed.yaml")
	compactAgent := fixManifest(t, "agent-compact-style.yaml")
	notAgent := fixManifest(t, "daemonset-not-an-agent.yaml")
	tests := []struct {
		name        string
		in          string
		want        string
		wantChanges []string
	}{
		{
			name:        "an agent DaemonSet gains the control-plane tolerations after its own, keeping comments, order and the wide style",
			in:          agent,
			want:        agentFixed,
			wantChanges: []string{"2 monitoring/node-agent 2"},
		},
		{
			name:        "a compact-style DaemonSet without tolerations gets the field, in the compact style",
			in:          compactAgent,
			want:        compactAgentFixed,
			wantChanges: []string{"1 default/logs 2"},
		},
		{
			name:        "untouched documents and separators stay byte for byte around a fixed one",
			in:          svc + "---   # separator comment\n" + agent + "--- \n" + notAgent + "---\n",
			want:        svc + "---   # separator comment\n" + agentFixed + "--- \n" + notAgent + "---\n",
			wantChanges: []string{"7 monitoring/node-agent 2"},
		},
		{
			name:        "a document after a \"...\" end marker is fixed too, as the check sees it",
			in:          svc + "...\n" + agent,
			want:        svc + "...\n" + agentFixed,
			wantChanges: []string{"7 monitoring/node-agent 2"},
		},
		{
			name: "a stream with nothing to fix is returned as it is",
			in:   svc + "---\n" + notAgent + "---\nkind: [broken\n",
			want: svc + "---\n" + notAgent + "---\nkind: [broken\n",
		},
		{
			name: "an agent that is already fixed is left alone",
			in:   agentFixed,
			want: agentFixed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changes, err := Stream(policies.NewEngine(nil), "", []byte(tt.in))
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
	svc := fixManifest(t, "service-with-odd-spacing.yaml")
	agent := fixManifest(t, "agent-wide-style.yaml")
	compactAgent := fixManifest(t, "agent-compact-style.yaml")
	engine := policies.NewEngine(nil)
	once, _, err := Stream(engine, "", []byte(svc+"---\n"+agent+"---\n"+compactAgent))
	if err != nil {
		t.Fatal(err)
	}
	twice, changes, err := Stream(engine, "", once)
	if err != nil || len(changes) != 0 || string(twice) != string(once) {
		t.Errorf("second pass = %d changes, err %v, output changed %v; want nothing to fix", len(changes), err, string(twice) != string(once))
	}
}

// fixManifest returns testdata/name.
func fixManifest(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
