// Package corpus checks setwarden against manifests rendered from public
// Helm charts (../shared/corpus/real-world beside the repository), for real
// catches and false positives. The expected findings were reviewed against
// the corpus's FINDINGS.md, a reviewer's verdicts on every object.
package corpus

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/setwarden/setwarden/cmd/setwarden/app"
	"github.com/setwarden/setwarden/test/framework"
)

var update = flag.Bool("update", false, "rewrite testdata/expected.txt from the current findings")

// corpusDir returns the real-world corpus beside the repository; when it is
// missing the test fails in CI and is skipped elsewhere.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(framework.RepoRoot(), "..", "shared", "corpus", "real-world")
	if _, err := os.Stat(dir); err != nil {
		msg := fmt.Sprintf("../shared/corpus/real-world is missing: CI lays it beside the repository (%v)", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

type result struct {
	Rule   string `json:"rule"`
	Action string `json:"action"`
	Object struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"object"`
}

// findings checks each file on its own (each is a separate release, and two
// renders of one chart define the same Services), against the example
// cluster's Nodes, and returns one line per finding.
func findings(t *testing.T, dir string) []string {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) < 30 {
		t.Fatalf("expected the corpus's ~37 files in %s, found %d (%v)", dir, len(files), err)
	}
	nodes := filepath.Join(framework.RepoRoot(), "examples", "cluster", "nodes.yaml")
	var lines []string
	for _, f := range files {
		var stdout, stderr bytes.Buffer
		code := app.Run(t.Context(), []string{"check", "-o", "json", f, nodes}, nil, &stdout, &stderr)
		if code == app.ExitUsage {
			t.Errorf("%s: input errors: %s %s", filepath.Base(f), stderr.String(), stdout.String())
			continue
		}
		var out struct{ Results []result }
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		for _, r := range out.Results {
			lines = append(lines, fmt.Sprintf("%s %s %s %s/%s", filepath.Base(f), r.Action, r.Rule, r.Object.Kind, r.Object.Name))
		}
	}
	sort.Strings(lines)
	return lines
}

func TestRealWorldCorpus(t *testing.T) {
	got := findings(t, corpusDir(t))
	golden := filepath.Join("testdata", "expected.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Split(strings.TrimSpace(string(want)), "\n"), got); diff != "" {
		t.Errorf("findings on the corpus changed (-want +got); review against FINDINGS.md, then run with -update:\n%s", diff)
	}
	// The reviewer's totals (FINDINGS.md summary), per rule.
	counts := map[string]int{}
	for _, l := range got {
		counts[strings.Fields(l)[2]]++
	}
	wantCounts := map[string]int{
		"statefulset-volume-claim-templates": 29, // 29 of 65 StatefulSets, all deliberate (exempt them)
		"statefulset-service-headless":       8,  // memcached HA and grafana-mimir
		"statefulset-service-missing":        6,  // tempo, tempo-distributed x4, grafana useStatefulSet
		"affinity-deprecated-label":          6,  // loki-distributed x5, grafana CI values
		"topology-key-unknown":               6,  // the same terms: no example node carries the deprecated key
		"daemonset-pod-anti-affinity":        4,  // cilium and cilium-envoy, in two renders
		"node-affinity-no-matching-nodes":    1,  // kafka pinned to eu-west-1 zones; the example nodes are elsewhere
	}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("per-rule totals differ from the reviewed ones (-want +got):\n%s", diff)
	}
}
