package app

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// runWalkCases runs each case in testdata/walk, which holds Helm charts,
// kustomizations and ignore files as a repository would.
func runWalkCases(t *testing.T, tests []checkCase) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "walk"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(dir)
			var stdout, stderr bytes.Buffer
			code := Run(t.Context(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout:\n%.3000s\nstderr:\n%.2000s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			checkContainsInOrder(t, "stdout", stdout.String(), tt.wantStdout)
			checkContainsInOrder(t, "stderr", stderr.String(), tt.wantStderr)
		})
	}
}

func TestCheckWalksHelmCharts(t *testing.T) {
	const statefulSet = "chart/templates/statefulset.yaml:3: Deny "
	runWalkCases(t, []checkCase{
		{
			name:     "a chart is rendered with its values.yaml and found at its template, line 3 of its helm template output",
			args:     []string{"check", "chart"},
			wantCode: ExitDenied,
			wantStdout: []string{statefulSet + "statefulset-service-name StatefulSet.apps default/release-name-redis: spec.serviceName: Required value",
				"objects: 1 read, 1 evaluated"},
		},
		{
			name:       "a values file is merged over values.yaml: the Service it names is rendered too and the StatefulSet passes",
			args:       []string{"check", "chart", "--values", "values/with-service.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"objects: 2 read, 1 evaluated; not evaluated: Service 1", "findings: Deny 0,"},
		},
		{
			name:     "--set overrides the values files",
			args:     []string{"check", "chart", "--values", "values/with-service.yaml", "--set", "storage=false"},
			wantCode: ExitDenied,
			wantStdout: []string{statefulSet + "statefulset-volume-claim-templates StatefulSet.apps default/release-name-redis",
				"findings: Deny 1,"},
		},
		{
			name:       "--release-name names the release",
			args:       []string{"check", "chart", "--release-name", "cache"},
			wantCode:   ExitDenied,
			wantStdout: []string{statefulSet + "statefulset-service-name StatefulSet.apps default/cache-redis"},
		},
		{
			name:     "a vendored dependency is rendered with the parent's values and found at its own template",
			args:     []string{"check", "dependency"},
			wantCode: ExitDenied,
			wantStdout: []string{"dependency/charts/cache/templates/statefulset.yaml:4: Deny statefulset-service-name StatefulSet.apps default/release-name-cache",
				"objects: 2 read, 1 evaluated; not evaluated: ConfigMap 1"},
		},
		{
			name:     "a chart that does not render is an input error naming the chart with helm's message, and the rest is still checked",
			args:     []string{"check", "unrenderable", "chart"},
			wantCode: ExitUsage,
			wantStdout: []string{statefulSet + "statefulset-service-name",
				"unrenderable: error: Helm chart does not render: execution error at (unrenderable/templates/deployment.yaml:10:20): image is required",
				"input errors: 1"},
		},
		{
			name:       "a values file that cannot be read is a usage error",
			args:       []string{"check", "chart", "--values", "values/missing.yaml"},
			wantCode:   ExitUsage,
			wantStderr: []string{"--values values/missing.yaml: open values/missing.yaml: no such file or directory"},
		},
		{
			name:       "a --set that cannot be parsed is a usage error",
			args:       []string{"check", "chart", "--set", "a[=1"},
			wantCode:   ExitUsage,
			wantStderr: []string{"--set a[=1: "},
		},
	})
}

func TestCheckWalksKustomizationsAndSkipsOtherYAML(t *testing.T) {
	runWalkCases(t, []checkCase{
		{
			name:     "a kustomization found by walking is built, its objects found at their resource files, the overlay's through its base",
			args:     []string{"check", "kustomized"},
			wantCode: ExitDenied,
			wantStdout: []string{
				"kustomized/base/statefulset.yaml:2: Deny statefulset-volume-claim-templates StatefulSet.apps default/db",
				"kustomized/base/statefulset.yaml:2: Deny statefulset-volume-claim-templates StatefulSet.apps prod/db",
				"objects: 4 read, 2 evaluated; not evaluated: Service 2"},
		},
		{
			name:     "-k builds a kustomization and reports its objects at their resource files, as a walk does",
			args:     []string{"check", "-k", "kustomized/overlay"},
			wantCode: ExitDenied,
			wantStdout: []string{
				"kustomized/base/statefulset.yaml:2: Deny statefulset-volume-claim-templates StatefulSet.apps prod/db",
				"objects: 2 read, 1 evaluated; not evaluated: Service 1"},
		},
		{
			name:       "-k on a folder without a kustomization file is an input error naming the folder",
			args:       []string{"check", "-k", "ci"},
			wantCode:   ExitUsage,
			wantStdout: []string{"ci: error: kustomize build: no kustomization.yaml, kustomization.yml or Kustomization in this folder: give -k the folder of a kustomization"},
		},
		{
			name:       "a folder that is both a chart and a kustomization is rendered as a chart when walked",
			args:       []string{"check", "both"},
			wantCode:   ExitOK,
			wantStdout: []string{"objects: 1 read, 1 evaluated\n"},
		},
		{
			name:       "a folder that is both a chart and a kustomization is built as a kustomization with -k",
			args:       []string{"check", "-k", "both"},
			wantCode:   ExitDenied,
			wantStdout: []string{"both/statefulset.yaml:2: Deny statefulset-volume-claim-templates StatefulSet.apps default/db", "objects: 1 read, 1 evaluated\n"},
		},
		{
			name:     "a CI workflow is skipped with a notice, not an error",
			args:     []string{"check", "ci"},
			wantCode: ExitOK,
			wantStdout: []string{"ci/.github/workflows/ci.yaml: notice: skipped: not a Kubernetes object (no apiVersion and kind)",
				"objects: 2 read, 1 evaluated", "notices: 1\n  input errors: 0"},
		},
		{
			name:       "a file named explicitly that holds no object is still an error",
			args:       []string{"check", "-f", "ci/.github/workflows/ci.yaml"},
			wantCode:   ExitUsage,
			wantStdout: []string{"ci/.github/workflows/ci.yaml:1: error: not a Kubernetes object: apiVersion and kind are required"},
		},
	})
}

func TestCheckExcludesPaths(t *testing.T) {
	const denied = "excluded/deep/er/broken.yaml:2: Deny statefulset-service-name"
	runWalkCases(t, []checkCase{
		{
			name:       "without --exclude every file is read",
			args:       []string{"check", "excluded"},
			wantCode:   ExitDenied,
			wantStdout: []string{denied, "objects: 3 read"},
		},
		{
			name:       "--exclude matches a base name at any depth",
			args:       []string{"check", "excluded", "--exclude", "broken.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"objects: 2 read"},
		},
		{
			name:       "--exclude matches the path under the walked directory, ** for any number of folders",
			args:       []string{"check", "excluded", "--exclude", "deep/**/*.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"objects: 2 read"},
		},
		{
			name:       "--exclude with a trailing / matches folders only",
			args:       []string{"check", "excluded", "--exclude", "er/", "--exclude", "service.yaml/"},
			wantCode:   ExitOK,
			wantStdout: []string{"objects: 2 read, 1 evaluated; not evaluated: Service 1"},
		},
		{
			name:       "a path that only matches elsewhere is not excluded",
			args:       []string{"check", "excluded", "--exclude", "er/broken.yaml"},
			wantCode:   ExitDenied,
			wantStdout: []string{denied},
		},
		{
			name:       "an invalid pattern is a usage error",
			args:       []string{"check", "excluded", "--exclude", "[a-"},
			wantCode:   ExitUsage,
			wantStderr: []string{`invalid pattern "[a-": syntax error in pattern`},
		},
		{
			name:       ".setwardenignore at the root of a walked directory skips its folders and globs",
			args:       []string{"check", "ignored"},
			wantCode:   ExitOK,
			wantStdout: []string{"objects: 2 read, 1 evaluated; not evaluated: Service 1", "findings: Deny 0,"},
		},
		{
			name:       ".setwardenignore is read at the root of the walk only: a folder below it is walked whole",
			args:       []string{"check", "ignored/broken"},
			wantCode:   ExitDenied,
			wantStdout: []string{"ignored/broken/statefulset.yaml:2: Deny statefulset-service-name"},
		},
	})
}

// TestCheckChartFindingsLocateTheTemplate checks that code scanning can
// place a chart's findings: SARIF and JSON name the template's path
// relative to the repository, with a line.
func TestCheckChartFindingsLocateTheTemplate(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "walk"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	const want = "dependency/charts/cache/templates/statefulset.yaml"
	var stdout, stderr bytes.Buffer
	if code := Run(t.Context(), []string{"check", "dependency", "-o", "sarif"}, nil, &stdout, &stderr); code != ExitDenied {
		t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, ExitDenied, stderr.String())
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &sarif); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, res := range sarif.Runs[0].Results {
		if res.RuleID != "statefulset-service-name" {
			continue
		}
		found = true
		loc := res.Locations[0].PhysicalLocation
		// Line 8 of the rendered template: "spec:", where serviceName is missing.
		if loc.ArtifactLocation.URI != want || loc.Region.StartLine != 8 {
			t.Errorf("SARIF location = %s:%d, want %s:8", loc.ArtifactLocation.URI, loc.Region.StartLine, want)
		}
	}
	if !found {
		t.Errorf("no statefulset-service-name result in SARIF:\n%s", stdout.String())
	}

	stdout.Reset()
	if code := Run(t.Context(), []string{"check", "dependency", "-o", "json"}, nil, &stdout, &stderr); code != ExitDenied {
		t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, ExitDenied, stderr.String())
	}
	var rep struct {
		Results []struct {
			File string
			Line int
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) == 0 {
		t.Fatalf("no results in JSON:\n%s", stdout.String())
	}
	for _, res := range rep.Results {
		if res.File != want || res.Line != 4 {
			t.Errorf("JSON result at %s:%d, want %s:4", res.File, res.Line, want)
		}
	}

	stdout.Reset()
	if code := Run(t.Context(), []string{"check", "dependency", "-o", "junit"}, nil, &stdout, &stderr); code != ExitDenied {
		t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, ExitDenied, stderr.String())
	}
	checkContainsInOrder(t, "JUnit", stdout.String(), []string{
		`<testcase name="statefulset-service-name" classname="StatefulSet.apps default/release-name-cache" file="` + want + `" line="4">`})
}

// TestCheckRepositoryPasses runs `setwarden check .` at the root of this
// repository, as its README's quick start does: its chart rendered, its
// examples checked, and what must not be checked left out by its own
// .setwardenignore.
func TestCheckRepositoryPasses(t *testing.T) {
	t.Chdir(filepath.Join("..", "..", ".."))
	var stdout, stderr bytes.Buffer
	if code := Run(t.Context(), []string{"check", "."}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("setwarden check . exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitOK, stdout.String(), stderr.String())
	}
	checkContainsInOrder(t, "stdout", stdout.String(), []string{"input errors: 0"})
}
