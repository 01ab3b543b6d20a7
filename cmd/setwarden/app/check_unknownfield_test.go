package app

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCheckUnknownFields(t *testing.T) {
	statefulSet := "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceNme: db\n  selector:\n    matchLabels: {app: db}\n" +
		"  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n        - {name: db, image: postgres}\n" +
		"  volumeClaimTemplates:\n    - metadata: {name: data}\n      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n" +
		"  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      affinity:\n        nodeAfinity: {}\n" +
		"      containers:\n        - {name: web, image: nginx}\n"
	runCheckCases(t, []checkCase{
		{
			name:     "a misspelled nodeAffinity read from stdin is denied instead of passing silently",
			stdin:    deployment,
			args:     []string{"check", "-f", "-"},
			wantCode: ExitDenied,
			wantStdout: []string{`<stdin>:1: Deny unknown-field Deployment.apps default/web: spec.template.spec.affinity.nodeAfinity: Forbidden: unknown field; did you mean "nodeAffinity"?`,
				"  findings: Deny 1,"},
		},
		{
			name:     "an object with an unknown field is still judged by every other rule",
			files:    map[string]string{"sts.yaml": statefulSet},
			args:     []string{"check", "sts.yaml"},
			wantCode: ExitDenied,
			wantStdout: []string{
				`sts.yaml:1: Deny statefulset-service-name StatefulSet.apps default/db: spec.serviceName: Required value: `,
				`sts.yaml:1: Deny unknown-field StatefulSet.apps default/db: spec.serviceNme: Forbidden: unknown field; did you mean "serviceName"?`,
				"  findings: Deny 2,",
			},
		},
		{
			name:       "the rule can be turned off in the PolicyConfig",
			files:      map[string]string{"web.yaml": deployment, "policy.yaml": "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\nrules:\n  unknown-field: {action: Off}\n"},
			args:       []string{"check", "--config", "policy.yaml", "web.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"  findings: Deny 0,"},
		},
		{
			name:     "a misspelled field of a Service, which is not judged, is an input error at the field with exit 2",
			files:    map[string]string{"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  clusterIP: None\n  selecter: {app: db}\n"},
			args:     []string{"check", "svc.yaml"},
			wantCode: ExitUsage,
			wantStdout: []string{`svc.yaml:7: error: Service default/db: spec.selecter: Forbidden: unknown field; did you mean "selector"? (rule unknown-field)`,
				"  input errors: 1"},
		},
	})
}

// TestCheckUnknownFieldSARIFLocatesTheField checks that SARIF, which places
// results at the field's line, points at a misspelled field and at the
// first of two duplicate keys, whose message names both lines.
func TestCheckUnknownFieldSARIFLocatesTheField(t *testing.T) {
	t.Chdir(t.TempDir())
	doc := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers: [{name: a, image: a}]\n  tolerationz: []\nmetadata:\n  name: b\n"
	checkWriteFiles(t, map[string]string{"pod.yaml": doc})
	var stdout, stderr bytes.Buffer
	if code := Run(t.Context(), []string{"check", "-o", "sarif=out.sarif", "pod.yaml"}, nil, &stdout, &stderr); code != ExitDenied {
		t.Fatalf("exit code = %d, want %d; stderr: %s", code, ExitDenied, stderr.String())
	}
	data, err := os.ReadFile("out.sarif")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID  string `json:"ruleId"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil || len(log.Runs) != 1 {
		t.Fatalf("SARIF does not parse into one run: %v", err)
	}
	run := log.Runs[0]
	if !slices.ContainsFunc(run.Tool.Driver.Rules, func(r struct {
		ID string `json:"id"`
	}) bool {
		return r.ID == "unknown-field"
	}) {
		t.Errorf("SARIF rules lack unknown-field: %+v", run.Tool.Driver.Rules)
	}
	var got []string
	for _, r := range run.Results {
		if r.RuleID == "unknown-field" && len(r.Locations) == 1 {
			got = append(got, strings.Join([]string{r.Message.Text, "line", strconv.Itoa(r.Locations[0].PhysicalLocation.Region.StartLine)}, " "))
		}
	}
	want := []string{
		`Pod default/b: metadata: Forbidden: duplicate field, at lines 3 and 8 line 3`,
		`Pod default/b: spec.tolerationz: Forbidden: unknown field; did you mean "tolerations"? line 7`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unknown-field results:\n%s\nwant:\n%s\nSARIF:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), data)
	}
}
