package app

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/setwarden/setwarden/internal/report"
)

var checkUpdate = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// checkRunExamples runs check over the repository's examples/ with args,
// from the repository root so that paths in the output are stable.
func checkRunExamples(t *testing.T, args ...string) (stdout string, code int) {
	t.Helper()
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join("..", "..", ".."))
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "$TESTDATA", testdata)
	}
	var out, errOut bytes.Buffer
	code = Run(t.Context(), append([]string{"check", "examples"}, args...), nil, &out, &errOut)
	// Without text on stdout, the one-line summary goes to stderr, and
	// nothing else: examples/ holds no input error.
	if e := errOut.String(); e != "" && (!strings.HasPrefix(e, "setwarden check: ") || strings.Count(e, "\n") != 1) {
		t.Errorf("stderr = %q, want at most the one-line summary", e)
	}
	return out.String(), code
}

// TestCheckGolden compares every output format over examples/ with its
// golden file; run with -update to regenerate them, never edit them by hand.
func TestCheckGolden(t *testing.T) {
	for _, format := range report.Formats {
		t.Run("the "+format+" output over examples/ matches its golden file", func(t *testing.T) {
			got, code := checkRunExamples(t, "-o", format)
			if code != ExitDenied {
				t.Errorf("exit code = %d, want %d", code, ExitDenied)
			}
			path := filepath.Join("testdata", "examples."+format)
			checkGoldenCompare(t, path, got)
		})
	}
}

func checkGoldenCompare(t *testing.T, path, got string) {
	t.Helper()
	abs := filepath.Join("cmd", "setwarden", "app", path) // checkRunExamples moved to the root
	if *checkUpdate {
		if err := os.WriteFile(abs, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(abs)
	if err != nil {
		t.Fatalf("%v (run the tests with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output differs from %s (-want +got); if the change is intended, run with -update:\n%s", path, diff)
	}
}

// TestCheckSARIFLocations checks the SARIF output's rules and locations;
// the report package validates it against the SARIF 2.1.0 schema.
func TestCheckSARIFLocations(t *testing.T) {
	got, _ := checkRunExamples(t, "-o", "sarif")
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID      string `json:"id"`
						HelpURI string `json:"helpUri"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
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
	if err := json.Unmarshal([]byte(got), &log); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		if ids[r.ID] || !strings.HasSuffix(r.HelpURI, "#"+r.ID) {
			t.Errorf("rule %s is listed twice or has help URI %q", r.ID, r.HelpURI)
		}
		ids[r.ID] = true
	}
	// examples/broken/fragile-toleration.yaml: the finding is on the
	// line of the offending field (the toleration's operator), not on the
	// object's first line.
	found := false
	for _, res := range log.Runs[0].Results {
		loc := res.Locations[0].PhysicalLocation
		if res.RuleID == "toleration-value-fragile" && loc.ArtifactLocation.URI == "examples/broken/fragile-toleration.yaml" {
			found = true
			line := checkLineOf(t, "examples/broken/fragile-toleration.yaml", "operator: Equal")
			if loc.Region.StartLine != line {
				t.Errorf("toleration-value-fragile is at line %d, want %d (the operator)", loc.Region.StartLine, line)
			}
		}
	}
	if !found {
		t.Errorf("no toleration-value-fragile result in examples/broken/fragile-toleration.yaml")
	}
}

// checkLineOf returns the 1-based line of the first line of file holding s.
func checkLineOf(t *testing.T, file, s string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, s)
	return 0
}

func TestCheckJUnitIsStandardXML(t *testing.T) {
	tests := []struct {
		name         string
		failOn       string
		wantFailures int
	}{
		// 15 Deny findings, two of them on the same object and rule.
		{name: "with --fail-on deny only Deny findings are failures", failOn: "deny", wantFailures: 13},
		// Plus 11 Warn findings, none on an object and rule that already fails,
		// and the agent DaemonSet's Mutate findings (two on one rule).
		{name: "with --fail-on warn Warn and Mutate findings are failures too", failOn: "warn", wantFailures: 25},
		{name: "with --fail-on never nothing is a failure", failOn: "never", wantFailures: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := checkRunExamples(t, "-o", "junit", "--fail-on", tt.failOn)
			var suites report.JUnitSuites
			if err := xml.Unmarshal([]byte(got), &suites); err != nil {
				t.Fatalf("the JUnit output does not parse: %v", err)
			}
			if suites.XMLName.Local != "testsuites" || len(suites.Suites) == 0 {
				t.Fatalf("root = %q with %d suites, want testsuites with some", suites.XMLName.Local, len(suites.Suites))
			}
			tests, failures := 0, 0
			for _, s := range suites.Suites {
				tests += len(s.Cases)
				for _, c := range s.Cases {
					if len(c.Failures) > 0 {
						failures++
					}
				}
			}
			if tests != suites.Tests || failures != suites.Failures || failures != tt.wantFailures {
				t.Errorf("counted %d tests and %d failing ones, root says %d and %d; want %d failing",
					tests, failures, suites.Tests, suites.Failures, tt.wantFailures)
			}
			if !strings.HasPrefix(got, xml.Header+"<testsuites") {
				t.Errorf("the output does not start with the XML header and <testsuites>: %.80q", got)
			}
		})
	}
}

func TestCheckSeveralOutputs(t *testing.T) {
	dir := t.TempDir()
	stdout, code := checkRunExamples(t, "-o", "text", "-o", "sarif="+filepath.Join(dir, "r.sarif"), "-o", "junit="+filepath.Join(dir, "r.xml"))
	if code != ExitDenied {
		t.Errorf("exit code %d, want 1", code)
	}
	// Each output is exactly what the format alone writes to stdout.
	checkGoldenCompare(t, filepath.Join("testdata", "examples.text"), stdout)
	for file, golden := range map[string]string{"r.sarif": "examples.sarif", "r.xml": "examples.junit"} {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("%s was not written: %v", file, err)
		}
		checkGoldenCompare(t, filepath.Join("testdata", golden), string(got))
	}
}

func TestCheckOutputFileThatCannotBeCreated(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "missing", "r.json")
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join("..", "..", ".."))
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"check", "examples", "-o", "text", "-o", "json=" + bad, "-o", "junit=" + filepath.Join(dir, "r.xml")},
		nil, &stdout, &stderr)
	if code != ExitUsage {
		t.Errorf("exit code %d, want %d", code, ExitUsage)
	}
	wantErr := "Error: writing the json report: open " + bad + ": no such file or directory\n"
	if stderr.String() != wantErr {
		t.Errorf("stderr = %q, want %q", stderr.String(), wantErr)
	}
	// The other outputs are written in full all the same.
	for got, golden := range map[string]string{stdout.String(): "examples.text", checkReadFile(t, filepath.Join(dir, "r.xml")): "examples.junit"} {
		want := checkReadFile(t, filepath.Join(testdata, golden))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("output differs from %s (-want +got):\n%s", golden, diff)
		}
	}
}

func checkReadFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
