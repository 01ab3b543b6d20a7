package release

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dockerfile is what the Dockerfile says about the release binary and image.
type dockerfile struct {
	// BuildEnv are the VAR=value settings of the go build RUN line.
	BuildEnv map[string]string
	// BuildFlags are go build's flags before -o, such as -trimpath.
	BuildFlags []string
	// LDFlags are the words of -ldflags, ${VAR} left as written.
	LDFlags []string
	// Base is the final stage's FROM.
	Base       string
	User       string
	Entrypoint []string
	Cmd        []string
	// Labels are the final stage's LABEL keys and values.
	Labels map[string]string
}

// parseDockerfile reads the repository's Dockerfile: line continuations
// joined, the build stage's go build RUN line and the final stage's FROM,
// USER, ENTRYPOINT, CMD and LABEL instructions.
func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	d := dockerfile{BuildEnv: map[string]string{}, Labels: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			d.Base, _, _ = strings.Cut(rest, " ")
			d.Labels = map[string]string{}
		case "RUN":
			if strings.Contains(rest, "go build") {
				parseBuildLine(t, rest, &d)
			}
		case "USER":
			d.User = rest
		case "ENTRYPOINT":
			d.Entrypoint = jsonArray(t, rest)
		case "CMD":
			d.Cmd = jsonArray(t, rest)
		case "LABEL":
			for _, m := range regexp.MustCompile(`(\S+?)="([^"]*)"`).FindAllStringSubmatch(rest, -1) {
				d.Labels[m[1]] = m[2]
			}
		}
	}
	return d
}

// parseBuildLine reads "VAR=v ... go build FLAGS -ldflags="..." -o OUT PKG".
func parseBuildLine(t *testing.T, run string, d *dockerfile) {
	t.Helper()
	env, build, _ := strings.Cut(run, "go build")
	for _, w := range strings.Fields(env) {
		if k, v, ok := strings.Cut(w, "="); ok {
			d.BuildEnv[k] = v
		}
	}
	m := regexp.MustCompile(`-ldflags="([^"]*)"`).FindStringSubmatch(build)
	if m == nil {
		t.Fatalf("the Dockerfile's go build has no -ldflags=\"...\": %s", build)
	}
	d.LDFlags = ldflagWords(m[1])
	before, _, _ := strings.Cut(strings.Replace(build, m[0], "", 1), " -o ")
	d.BuildFlags = strings.Fields(before)
}

// ldflagWords splits -ldflags into its flags, keeping "-X name=value" as one.
func ldflagWords(s string) []string {
	var words []string
	fields := strings.Fields(s)
	for i := 0; i < len(fields); i++ {
		if fields[i] == "-X" && i+1 < len(fields) {
			words = append(words, "-X "+fields[i+1])
			i++
			continue
		}
		words = append(words, fields[i])
	}
	return words
}

// jsonArray reads an exec-form instruction's ["a", "b"].
func jsonArray(t *testing.T, s string) []string {
	t.Helper()
	if !strings.HasPrefix(s, "[") {
		t.Fatalf("%q is not in exec form: a shell form needs a shell, which the image has none of", s)
	}
	var out []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// distBuild is how hack/dist.sh builds each binary.
type distBuild struct {
	Env     map[string]string
	Flags   []string
	LDFlags []string
}

// parseDistScript reads hack/dist.sh's go build line and its ldflags.
func parseDistScript(t *testing.T) distBuild {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "hack", "dist.sh"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	pkg := regexp.MustCompile(`(?m)^pkg=(\S+)$`).FindStringSubmatch(text)
	ld := regexp.MustCompile(`(?m)^ldflags="([^"]*)"$`).FindStringSubmatch(text)
	build := regexp.MustCompile(`(?m)^\s*(CGO_ENABLED=\S+ .*?)"\$\{GO\}" build (.*?) -ldflags="\$\{ldflags\}" -o `).FindStringSubmatch(text)
	if pkg == nil || ld == nil || build == nil {
		t.Fatalf("hack/dist.sh has no pkg=, ldflags= or go build line (pkg %v, ldflags %v, build %v)", pkg, ld, build)
	}
	b := distBuild{Env: map[string]string{}, Flags: strings.Fields(build[2])}
	for _, w := range strings.Fields(build[1]) {
		if k, v, ok := strings.Cut(w, "="); ok {
			b.Env[k] = v
		}
	}
	b.LDFlags = ldflagWords(strings.ReplaceAll(ld[1], "${pkg}", pkg[1]))
	return b
}

// normalizeVars spells every ${VAR} as ${var}, so the Dockerfile's build
// arguments and the script's variables compare.
func normalizeVars(words []string) []string {
	re := regexp.MustCompile(`\$\{([A-Za-z_]+)\}`)
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = re.ReplaceAllStringFunc(w, strings.ToLower)
	}
	return out
}

// TestDockerfileBuildsTheRelease keeps the Dockerfile, for machines with
// Docker, building what `make dist` and `make image` build: the same go
// build flags and version stamp, and an image with the same user,
// entrypoint and argument.
func TestDockerfileBuildsTheRelease(t *testing.T) {
	d := parseDockerfile(t)
	dist := parseDistScript(t)
	if d.BuildEnv["CGO_ENABLED"] != "0" || dist.Env["CGO_ENABLED"] != "0" {
		t.Errorf("CGO_ENABLED: Dockerfile %q, hack/dist.sh %q; both must build a static binary (0)",
			d.BuildEnv["CGO_ENABLED"], dist.Env["CGO_ENABLED"])
	}
	if diff := cmp.Diff(dist.Flags, d.BuildFlags); diff != "" {
		t.Errorf("go build flags (-hack/dist.sh +Dockerfile):\n%s", diff)
	}
	if diff := cmp.Diff(normalizeVars(dist.LDFlags), normalizeVars(d.LDFlags)); diff != "" {
		t.Errorf("-ldflags (-hack/dist.sh +Dockerfile):\n%s", diff)
	}
	for _, want := range []string{"-s", "-w"} {
		if !strings.Contains(strings.Join(d.LDFlags, " "), want) {
			t.Errorf("-ldflags %q do not strip (%s)", d.LDFlags, want)
		}
	}
	if !strings.Contains(strings.Join(d.BuildFlags, " "), "-trimpath") {
		t.Errorf("go build flags %q have no -trimpath", d.BuildFlags)
	}
	// What hack/tools/release/image writes into the image config.
	want := dockerfile{User: "65532:65532", Entrypoint: []string{"/usr/local/bin/setwarden"}, Cmd: []string{"serve"}}
	got := dockerfile{User: d.User, Entrypoint: d.Entrypoint, Cmd: d.Cmd}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the Dockerfile's final stage (-make image +Dockerfile):\n%s", diff)
	}
	if !strings.HasSuffix(d.Base, ":nonroot") {
		t.Errorf("the Dockerfile's base %s is not a nonroot image", d.Base)
	}
	for _, label := range imageLabels {
		if _, ok := d.Labels[label]; !ok {
			t.Errorf("the Dockerfile's image has no label %s (labels %v)", label, d.Labels)
		}
	}
	if got := strings.Trim(d.Labels["org.opencontainers.image.licenses"], `"`); got != licenseSPDX(t) {
		t.Errorf("the Dockerfile's licence label is %q, the LICENSE file's is %q", got, licenseSPDX(t))
	}
}

// licenseSPDX returns the SPDX identifier of the repository's LICENSE file,
// which the images' licence label must carry.
func licenseSPDX(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(repoRoot, "LICENSE"))
	if err != nil {
		t.Fatalf("the repository has no LICENSE: %v", err)
	}
	if !strings.Contains(string(text), "Apache License") || !strings.Contains(string(text), "Version 2.0, January 2004") {
		t.Fatalf("LICENSE is not the Apache License 2.0: update licenseSPDX with the licence it is")
	}
	return "Apache-2.0"
}

// imageLabels are the OCI labels both images carry.
var imageLabels = []string{"org.opencontainers.image.source", "org.opencontainers.image.version",
	"org.opencontainers.image.licenses", "org.opencontainers.image.revision", "org.opencontainers.image.title"}
