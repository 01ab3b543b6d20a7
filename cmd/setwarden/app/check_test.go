package app

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

const checkDeniedLine = "sts.yaml:2: Deny statefulset-service-name StatefulSet.apps default/redis: spec.serviceName: Required value: "

// checkManifest returns testdata/manifests/name; call it before t.Chdir.
func checkManifest(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "manifests", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkWriteFiles writes files (name -> content) in the current directory.
func checkWriteFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckCommand(t *testing.T) {
	headlessService := checkManifest(t, "redis-headless-service.yaml")
	goodStatefulSet := checkManifest(t, "redis-statefulset.yaml")
	noServiceName := checkManifest(t, "redis-statefulset-without-service-name.yaml")
	tests := []checkCase{
		{
			name:       "a StatefulSet with its headless Service and mounted claims passes with exit 0",
			files:      map[string]string{"app/svc.yaml": headlessService, "app/sts.yaml": goodStatefulSet},
			args:       []string{"check", "app"},
			wantCode:   ExitOK,
			wantStdout: []string{"Summary:\n  objects: 2 read, 1 evaluated; not evaluated: Service 1\n  findings: Deny 0, Warn 0, Audit 0, Mutate 0\n"},
		},
		{
			name:       "a StatefulSet without serviceName is denied with exit 1 and a kubectl-style line",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "-f", "sts.yaml"},
			wantCode:   ExitDenied,
			wantStdout: []string{checkDeniedLine, "  findings: Deny 1,"},
		},
		{
			name:       "a StatefulSet whose Service is missing is only warned about, so the exit status is 0",
			files:      map[string]string{"sts.yaml": goodStatefulSet},
			args:       []string{"check", "sts.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"sts.yaml:1: Warn statefulset-service-missing StatefulSet.apps default/redis: spec.serviceName: Not found: "},
		},
		{
			name:       "an output file in the checked directory is not read back while it is written",
			files:      map[string]string{"app/sts.yaml": noServiceName, "app/report.json": `{"stale": "report"}`},
			args:       []string{"check", "app", "-o", "text", "-o", "json=app/report.json", "-o", "yaml=app/report.yaml"},
			wantCode:   ExitDenied,
			wantStdout: []string{"app/" + checkDeniedLine, "objects: 1 read", "input errors: 0"},
		},
		{
			name:       "manifests piped to -f - are checked and reported as <stdin>",
			stdin:      noServiceName,
			args:       []string{"check", "-f", "-"},
			wantCode:   ExitDenied,
			wantStdout: []string{"<stdin>:2: Deny statefulset-service-name StatefulSet.apps default/redis: "},
		},
		{
			name:       "a closed standard input is an empty input, not a hang",
			args:       []string{"check", "-"},
			wantCode:   ExitUsage,
			wantStdout: []string{"error: no Kubernetes objects found in <stdin>", "objects: 0 read"},
		},
		{
			name: "invalid YAML exits 2 after the other documents and files are checked",
			files: map[string]string{
				"bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   labels: {}\n---\n" + headlessService,
				"sts.yaml": noServiceName,
			},
			args:     []string{"check", "bad.yaml", "sts.yaml"},
			wantCode: ExitUsage,
			wantStdout: []string{checkDeniedLine,
				"bad.yaml:5: error: invalid YAML: yaml: line 5: mapping values are not allowed in this context\n",
				"objects: 2 read, 1 evaluated; not evaluated: Service 1", "input errors: 1"},
		},
		{
			name:       "a path that does not exist exits 2 and the other paths are still checked",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "missing.yaml", "sts.yaml"},
			wantCode:   ExitUsage,
			wantStdout: []string{checkDeniedLine, "missing.yaml: error: no such file or directory\n"},
		},
		{
			name:     "a StatefulSet under apps/v1beta1 is an input error, not silently passed",
			files:    map[string]string{"old.yaml": strings.Replace(noServiceName, "apps/v1", "apps/v1beta1", 1)},
			args:     []string{"check", "old.yaml"},
			wantCode: ExitUsage,
			wantStdout: []string{`old.yaml:2: error: StatefulSet redis: unsupported apiVersion "apps/v1beta1"`,
				"objects: 0 read"},
		},
		{
			name: "a config that turns the rule off lets the same StatefulSet pass",
			files: map[string]string{"sts.yaml": noServiceName, "config.yaml": "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n" +
				"rules:\n  statefulset-service-name:\n    action: \"Off\"\n  statefulset-service-missing:\n    action: Audit\n"},
			args:       []string{"check", "--config", "config.yaml", "sts.yaml"},
			wantCode:   ExitOK,
			wantStdout: []string{"findings: Deny 0, Warn 0, Audit 0, Mutate 0"},
		},
		{
			name: "a config that names an unknown rule exits 2 with the key it names",
			files: map[string]string{"sts.yaml": noServiceName, "config.yaml": "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n" +
				"rules:\n  statefulset-servicename:\n    action: Warn\n"},
			args:       []string{"check", "--config", "config.yaml", "sts.yaml"},
			wantCode:   ExitUsage,
			wantStderr: []string{"Error: config.yaml: invalid PolicyConfig: rules[statefulset-servicename]: Invalid value: \"statefulset-servicename\": unknown rule; did you mean \"statefulset-service-name\"?\n"},
		},
		{
			name: "a config with an unknown key exits 2 naming the key",
			files: map[string]string{"sts.yaml": noServiceName, "config.yaml": "apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n" +
				"agent:\n  namespaces: [logging]\n"},
			args:       []string{"check", "--config", "config.yaml", "sts.yaml"},
			wantCode:   ExitUsage,
			wantStderr: []string{`unknown field "agent"`},
		},
		{
			name:       "a config file that does not exist exits 2",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "--config", "nope.yaml", "sts.yaml"},
			wantCode:   ExitUsage,
			wantStderr: []string{"Error: reading --config: open nope.yaml: no such file or directory"},
		},
		{
			name:       "an unknown output format is a usage error",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "-o", "xml", "sts.yaml"},
			wantCode:   ExitUsage,
			wantStderr: []string{`Error: --output "xml" is not supported; use text, json, yaml, sarif, junit, optionally followed by =FILE`},
		},
		{
			name:       "two outputs into one file are a usage error, since they would interleave",
			files:      map[string]string{"sts.yaml": noServiceName},
			args:       []string{"check", "-o", "json=report", "-o", "yaml=./report", "sts.yaml"},
			wantCode:   ExitUsage,
			wantStderr: []string{`Error: --output "yaml=./report" names a file another --output writes: give each report its own file`},
		},
		{
			name:       "nothing to check is a usage error",
			args:       []string{"check"},
			wantCode:   ExitUsage,
			wantStderr: []string{"Error: nothing to check"},
		},
		{
			name:       "an unknown flag is a usage error",
			args:       []string{"check", "--recursive", "x"},
			wantCode:   ExitUsage,
			wantStderr: []string{"Error: unknown flag: --recursive"},
		},
	}
	runCheckCases(t, tests)
}

// checkCase is one run of the command in a new directory holding files.
type checkCase struct {
	name       string
	files      map[string]string // name -> content
	symlinks   map[string]string // link -> target, made after files
	stdin      string
	args       []string
	wantCode   int
	wantStdout []string // substrings, in order
	wantStderr []string // substrings, in order
}

func runCheckCases(t *testing.T, tests []checkCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			checkWriteFiles(t, tt.files)
			for link, target := range tt.symlinks {
				if err := os.Symlink(target, link); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			code := Run(t.Context(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout:\n%.2000s\nstderr:\n%.2000s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			checkContainsInOrder(t, "stdout", stdout.String(), tt.wantStdout)
			checkContainsInOrder(t, "stderr", stderr.String(), tt.wantStderr)
		})
	}
}

func checkContainsInOrder(t *testing.T, stream, got string, want []string) {
	t.Helper()
	rest := got
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s lacks %q (in this order); got:\n%s", stream, w, got)
			return
		}
		rest = rest[i+len(w):]
	}
}

func TestCheckJSONOutput(t *testing.T) {
	noServiceName := checkManifest(t, "redis-statefulset-without-service-name.yaml")
	t.Chdir(t.TempDir())
	checkWriteFiles(t, map[string]string{"sts.yaml": noServiceName, "broken.yaml": "kind: [\n"})
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"check", "-o", "json", "sts.yaml", "broken.yaml"}, nil, &stdout, &stderr)
	wantStderr := "broken.yaml:1: error: invalid YAML: yaml: line 1: did not find expected node content\n" +
		"setwarden check: 1 objects read, 1 evaluated; findings: Deny 1, Warn 0, Audit 0, Mutate 0; input errors: 1\n"
	if code != ExitUsage || stderr.String() != wantStderr {
		t.Fatalf("exit code = %d, stderr %q; want 2 and the input error and summary on stderr, %q", code, stderr.String(), wantStderr)
	}
	var got report.Report
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("output is not the documented JSON shape: %v", err)
	}
	i := slices.IndexFunc(got.Results, func(r report.Result) bool { return r.Rule == policies.RuleStatefulSetServiceName })
	if i < 0 {
		t.Fatalf("results lack %s: %+v", policies.RuleStatefulSetServiceName, got.Results)
	}
	res := got.Results[i]
	want := report.Result{Rule: policies.RuleStatefulSetServiceName, Action: policies.ActionDeny,
		Object: report.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "default", Name: "redis"},
		Field:  "spec.serviceName", Message: res.Message, File: "sts.yaml", Line: 2}
	if res != want || !strings.HasPrefix(res.Message, "Required value: ") {
		t.Errorf("result = %+v, want %+v with a message starting with the error type", res, want)
	}
	if len(got.Errors) != 1 || got.Errors[0].File != "broken.yaml" || got.Errors[0].Line != 1 || got.Summary.Errors != 1 {
		t.Errorf("errors = %+v (summary count %d), want one invalid YAML error at broken.yaml:1", got.Errors, got.Summary.Errors)
	}
}

// TestCheckExamples runs the bundled examples: the good ones pass, and
// together with the broken ones they trigger every rule of the catalogue.
func TestCheckExamples(t *testing.T) {
	examples := filepath.Join("..", "..", "..", "examples")
	t.Run("the good examples with the cluster's nodes have no findings", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := Run(t.Context(), []string{"check", "-o", "json", filepath.Join(examples, "good"), filepath.Join(examples, "cluster")}, nil, &stdout, &stderr)
		var got report.Report
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if code != ExitOK || len(got.Results) != 0 || len(got.Errors) != 0 || len(got.Summary.Skipped) != 0 {
			t.Errorf("exit code %d, results %+v, errors %+v, skipped %+v; want a clean pass", code, got.Results, got.Errors, got.Summary.Skipped)
		}
	})
	t.Run("all examples together trigger every rule ID", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := Run(t.Context(), []string{"check", "-o", "json", examples}, nil, &stdout, &stderr)
		var got report.Report
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if code != ExitDenied || len(got.Errors) != 0 {
			t.Errorf("exit code %d, errors %+v; want 1 and no input errors", code, got.Errors)
		}
		seen := map[string]bool{}
		for _, r := range got.Results {
			seen[r.Rule] = true
		}
		for _, id := range policies.RuleIDs() {
			if !seen[id] {
				t.Errorf("no example triggers %s", id)
			}
		}
		if got.Summary.Exempted[policies.RuleStatefulSetVolumeClaimTmpls] != 1 || len(got.Summary.Notices) != 1 {
			t.Errorf("exempted %v, notices %+v; want the valid exemption counted and one notice for the exemption without reason",
				got.Summary.Exempted, got.Summary.Notices)
		}
	})
}

// gcPercent returns the collector's setting without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestCheckLeavesTheGCPercentAsItWas checks that a whole check run
// in-process (as the tests and benchmarks run it) restores the setting.
func TestCheckLeavesTheGCPercentAsItWas(t *testing.T) {
	t.Setenv("GOGC", "") // restored after the test
	os.Unsetenv("GOGC")
	defer debug.SetGCPercent(debug.SetGCPercent(123))
	examples := filepath.Join("..", "..", "..", "examples", "good")
	if code := Run(t.Context(), []string{"check", "-o", "json", examples}, nil, io.Discard, io.Discard); code != ExitOK {
		t.Fatalf("exit code %d", code)
	}
	if got := gcPercent(); got != 123 {
		t.Errorf("GOGC after a check = %d, want 123 as before it", got)
	}
}
