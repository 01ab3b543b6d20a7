package release

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// setwardenOnPath puts a setwarden binary on PATH for the commands the
// Action and the hooks run: the dist's one for this machine when
// SETWARDEN_DIST is set (`make test`, `make release-test`), else one built
// from the work tree.
func setwardenOnPath(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, exeName(runtime.GOOS))
	var distBin string
	if os.Getenv("SETWARDEN_DIST") != "" {
		distBin, _ = hostBinary(t, distDir(t))
	}
	if distBin != "" {
		data, err := os.ReadFile(distBin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/setwarden")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// exitCode runs cmd and returns its exit status and output.
func exitCode(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return 0, string(out)
}

// action is the part of action.yml the test runs.
type action struct {
	Inputs map[string]struct {
		Default string `json:"default"`
	} `json:"inputs"`
	Runs struct {
		Using string `json:"using"`
		Steps []struct {
			Name  string            `json:"name"`
			If    string            `json:"if"`
			Shell string            `json:"shell"`
			Env   map[string]string `json:"env"`
			Run   string            `json:"run"`
		} `json:"steps"`
	} `json:"runs"`
}

var inputExpr = regexp.MustCompile(`^\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}$`)

// TestGitHubAction runs action.yml's steps as a runner would, with
// version: none (setwarden already on PATH, so the install step is skipped),
// on examples/good (exit 0) and examples/broken (exit 1, the Deny findings
// in the SARIF report).
func TestGitHubAction(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a action
	// Keys this struct does not name (name, branding, outputs) are not read.
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("action.yml runs.using = %q, want composite", a.Runs.Using)
	}
	setwardenOnPath(t)
	examples, err := filepath.Abs(filepath.Join(repoRoot, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	for dir, wantExit := range map[string]int{"good": 0, "broken": 1} {
		t.Run("examples/"+dir, func(t *testing.T) {
			work := t.TempDir()
			inputs := map[string]string{}
			for name, in := range a.Inputs {
				inputs[name] = in.Default
			}
			inputs["version"] = "none"
			inputs["paths"] = filepath.Join(examples, dir)
			code, ran := -1, 0
			for _, step := range a.Runs.Steps {
				switch step.If {
				case "":
				case "inputs.version != 'none'":
					if inputs["version"] == "none" {
						continue
					}
				default:
					t.Fatalf("step %q: the test cannot evaluate if: %s", step.Name, step.If)
				}
				if step.Shell != "bash" {
					t.Fatalf("step %q has shell %q; composite steps need one, and the test runs bash", step.Name, step.Shell)
				}
				cmd := exec.CommandContext(t.Context(), "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step.Run)
				cmd.Dir = work
				cmd.Env = append(os.Environ(), "RUNNER_TEMP="+t.TempDir(), "GITHUB_PATH="+filepath.Join(work, "github_path"))
				for k, v := range step.Env {
					m := inputExpr.FindStringSubmatch(v)
					if m == nil {
						t.Fatalf("step %q env %s=%s: the test only substitutes ${{ inputs.NAME }}", step.Name, k, v)
					}
					val, ok := inputs[m[1]]
					if !ok {
						t.Fatalf("step %q env %s names input %s, which action.yml does not declare", step.Name, k, m[1])
					}
					cmd.Env = append(cmd.Env, k+"="+val)
				}
				var out string
				code, out = exitCode(t, cmd)
				ran++
				t.Logf("step %q exited %d:\n%s", step.Name, code, out)
			}
			if ran != 1 || code != wantExit {
				t.Errorf("%d steps ran, the last exited %d; want the check alone, exiting %d", ran, code, wantExit)
			}
			assertSARIF(t, filepath.Join(work, inputs["sarif-file"]), wantExit == 1)
		})
	}
}

// assertSARIF checks that path is a SARIF 2.1.0 log from setwarden, with
// results when findings are expected and none otherwise.
func assertSARIF(t *testing.T, path string, findings bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no SARIF report: %v", err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name string `json:"name"`
				} `json:"driver"`
			} `json:"tool"`
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatalf("the SARIF report is not JSON: %v", err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "setwarden" {
		t.Fatalf("SARIF version %q with %d runs, want 2.1.0 with one run of setwarden", log.Version, len(log.Runs))
	}
	if got := len(log.Runs[0].Results) > 0; got != findings {
		t.Errorf("the SARIF report has %d results; findings expected: %v", len(log.Runs[0].Results), findings)
	}
}

// hook is one entry of .pre-commit-hooks.yaml.
type hook struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	Entry         string   `json:"entry"`
	Args          []string `json:"args"`
	Language      string   `json:"language"`
	PassFilenames *bool    `json:"pass_filenames"`
	TypesOr       []string `json:"types_or"`
}

// TestPreCommitHooks runs each hook's command line as pre-commit would
// (entry, then args, then the staged files unless pass_filenames is
// false), in a repository holding examples/good (exit 0) and one holding
// examples/broken (exit 1).
func TestPreCommitHooks(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var hooks []hook
	if err := yaml.UnmarshalStrict(data, &hooks); err != nil {
		t.Fatalf(".pre-commit-hooks.yaml: %v", err)
	}
	if len(hooks) == 0 {
		t.Fatal(".pre-commit-hooks.yaml has no hooks")
	}
	setwardenOnPath(t)
	for _, h := range hooks {
		if h.Language != "golang" && h.Language != "system" {
			t.Errorf("hook %s has language %q: golang (pre-commit builds it) or system (on PATH)", h.ID, h.Language)
		}
		for dir, wantExit := range map[string]int{"good": 0, "broken": 1} {
			t.Run(h.ID+"/examples/"+dir, func(t *testing.T) {
				repo, err := filepath.Abs(filepath.Join(repoRoot, "examples", dir))
				if err != nil {
					t.Fatal(err)
				}
				argv := append(strings.Fields(h.Entry), h.Args...)
				if h.PassFilenames == nil || *h.PassFilenames {
					files, err := filepath.Glob(filepath.Join(repo, "*.yaml"))
					if err != nil {
						t.Fatal(err)
					}
					for _, f := range files {
						argv = append(argv, filepath.Base(f))
					}
				}
				cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
				cmd.Dir = repo
				if code, out := exitCode(t, cmd); code != wantExit {
					t.Errorf("%s in examples/%s exited %d, want %d:\n%s", strings.Join(argv, " "), dir, code, wantExit, out)
				}
			})
		}
	}
}
