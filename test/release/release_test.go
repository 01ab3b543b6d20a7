// Package release tests what `make dist` and `make image` build (the
// archives, SHA256SUMS, the SBOM, the chart and the OCI image in dist/), that
// the Dockerfile builds the same binary and image, and that the GitHub Action
// and the pre-commit hooks run setwarden as their users will.
//
// The tests of dist/ need SETWARDEN_DIST, the dist folder: `make test` sets
// it to a release it builds for the host's platform alone (linux/<arch>),
// `make release-test` to dist/ after `make dist` (all six platforms, which
// SETWARDEN_RELEASE_FULL=1 then requires). The checks follow the platforms the
// dist's .release.env declares. Without SETWARDEN_DIST they skip, and the
// Dockerfile, Action and hook tests still run.
package release

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository, relative to this package.
const repoRoot = "../.."

// platforms are a full release's targets, as os/arch: hack/dist.sh's default
// PLATFORMS, which TestDistScriptPlatforms keeps equal to this list.
var platforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"}

// distDir returns the dist folder `make dist` filled (SETWARDEN_DIST, a
// relative path read from the repository's root), or skips the test.
func distDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SETWARDEN_DIST")
	if dir == "" {
		t.Skip("SETWARDEN_DIST is not set: `make test` and `make release-test` build a release, then run these tests on it")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "SHA256SUMS")); err != nil {
		t.Fatalf("SETWARDEN_DIST=%s holds no release: %v", dir, err)
	}
	return dir
}

// fullRelease tells whether the dist must be a whole release
// (SETWARDEN_RELEASE_FULL=1, which `make release-test` sets).
func fullRelease() bool {
	return os.Getenv("SETWARDEN_RELEASE_FULL") == "1"
}

// releaseEnv is what hack/dist.sh recorded in <dist>/.release.env.
type releaseEnv struct {
	Version, Revision string
	// Platforms are the os/arch the dist holds, in the order built.
	Platforms []string
}

// readReleaseEnv reads <dist>/.release.env as `make image` does, with bash.
func readReleaseEnv(t *testing.T, dist string) releaseEnv {
	t.Helper()
	path := filepath.Join(dist, ".release.env")
	out, err := exec.CommandContext(t.Context(), "bash", "-c", `set -eu; source "$1"; printf '%s\n' "$version" "$revision" "$platforms"`,
		"bash", path).CombinedOutput()
	if err != nil {
		t.Fatalf("%s (make dist writes version, revision and platforms): %v\n%s", path, err, out)
	}
	lines := strings.Split(string(out), "\n")
	return releaseEnv{Version: lines[0], Revision: lines[1], Platforms: strings.Fields(lines[2])}
}

// distPlatforms are the platforms the dist declares, each of an OS whose
// binaries assertReleaseBuild reads; with SETWARDEN_RELEASE_FULL=1, exactly
// the six of a release.
func distPlatforms(t *testing.T, dist string) []string {
	t.Helper()
	declared := readReleaseEnv(t, dist).Platforms
	if len(declared) == 0 {
		t.Fatalf("%s/.release.env declares no platforms", dist)
	}
	for _, p := range declared {
		if goos, _, _ := strings.Cut(p, "/"); goos != "linux" && goos != "darwin" && goos != "windows" {
			t.Fatalf("the dist declares %s: the tests read linux, darwin and windows binaries", p)
		}
	}
	if fullRelease() && !slices.Equal(slices.Sorted(slices.Values(declared)), slices.Sorted(slices.Values(platforms))) {
		t.Fatalf("SETWARDEN_RELEASE_FULL=1, but the dist holds %v: a release holds %v (make dist without PLATFORMS)", declared, platforms)
	}
	return declared
}

// exeName is the binary's file name on goos.
func exeName(goos string) string {
	if goos == "windows" {
		return "setwarden.exe"
	}
	return "setwarden"
}

// hostBinary is the dist's binary for the machine running the tests, if
// the dist holds one.
func hostBinary(t *testing.T, dist string) (string, bool) {
	t.Helper()
	if !slices.Contains(distPlatforms(t, dist), runtime.GOOS+"/"+runtime.GOARCH) {
		return "", false
	}
	return filepath.Join(dist, "setwarden_"+runtime.GOOS+"_"+runtime.GOARCH, exeName(runtime.GOOS)), true
}

// TestDistScriptPlatforms keeps hack/dist.sh's default PLATFORMS, what a
// release holds, equal to the six this package checks a full release for.
func TestDistScriptPlatforms(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "hack", "dist.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^platforms="\$\{PLATFORMS:-([^}"]*)\}"$`).FindSubmatch(data)
	if m == nil {
		t.Fatal(`hack/dist.sh has no line platforms="${PLATFORMS:-<os/arch ...>}"`)
	}
	if diff := cmp.Diff(platforms, strings.Fields(string(m[1]))); diff != "" {
		t.Errorf("hack/dist.sh's default PLATFORMS (-test/release +hack/dist.sh):\n%s", diff)
	}
}

// distVersion is the release's version as .release.env records it
// ("v0.4.0"; TestDistArchives checks that the binaries print it), and its
// SemVer form without the v, as archives, the chart and the image tag spell
// it.
func distVersion(t *testing.T, dist string) (version, semver string) {
	t.Helper()
	version = readReleaseEnv(t, dist).Version
	return version, strings.TrimPrefix(version, "v")
}

// distStamp is the version and revision .release.env records, which the
// host's binary must print when the dist holds one (the others cannot run
// here; TestDistArchives finds the same strings in them).
func distStamp(t *testing.T, dist string) (version, revision string) {
	t.Helper()
	env := readReleaseEnv(t, dist)
	if env.Revision == "unknown" {
		// Outside a git checkout make test's host release has no commit to
		// name; a release must.
		if fullRelease() {
			t.Errorf(".release.env records revision %q: the release names its commit", env.Revision)
		} else {
			t.Logf(".release.env records revision %q: built outside a git checkout", env.Revision)
		}
	}
	bin, ok := hostBinary(t, dist)
	if !ok {
		t.Logf("the dist holds no binary that runs on %s/%s: setwarden version not run", runtime.GOOS, runtime.GOARCH)
		return env.Version, env.Revision
	}
	out, err := exec.CommandContext(t.Context(), bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("setwarden version: %v\n%s", err, out)
	}
	// "setwarden v0.4.0 (revision 1a2b3c4d5e6f, go1.26.10)"
	m := regexp.MustCompile(`^setwarden (v\S+) \(revision (\S+), go[0-9.]+\)\n$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("setwarden version printed %q, want \"setwarden vX.Y.Z (revision R, goV)\"", out)
	}
	if m[1] != env.Version || m[2] != env.Revision {
		t.Errorf("setwarden version printed %q; .release.env records version %s, revision %s", out, env.Version, env.Revision)
	}
	return env.Version, env.Revision
}

// TestDistArchives checks the list of release files, for the platforms the
// dist declares, that each archive holds the binary of its platform (the very
// bytes of dist/setwarden_OS_ARCH), the LICENSE and the README, and that the
// host's binary prints the release's version.
func TestDistArchives(t *testing.T) {
	dist := distDir(t)
	declared := distPlatforms(t, dist)
	version, revision := distStamp(t, dist)
	semver := strings.TrimPrefix(version, "v")
	if strings.Contains(version, "devel") || strings.Contains(version, "unknown") {
		t.Errorf("the release binary says version %q: make dist stamps the version", version)
	}
	want := []string{".release.env", "SHA256SUMS", "setwarden-" + semver + ".tgz", "setwarden-image.digest", "setwarden-image.tar",
		"setwarden_" + semver + ".cdx.json"}
	for _, p := range declared {
		goos, arch, _ := strings.Cut(p, "/")
		want = append(want, "setwarden_"+goos+"_"+arch+"/", archiveName(semver, goos, arch))
	}
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			name += "/"
		}
		got = append(got, name)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dist/ (-want +got):\n%s", diff)
	}

	for _, p := range declared {
		goos, arch, _ := strings.Cut(p, "/")
		t.Run(p, func(t *testing.T) {
			exe := exeName(goos)
			built, err := os.ReadFile(filepath.Join(dist, "setwarden_"+goos+"_"+arch, exe))
			if err != nil {
				t.Fatal(err)
			}
			files := archiveFiles(t, filepath.Join(dist, archiveName(semver, goos, arch)))
			prefix := "setwarden_" + semver + "_" + goos + "_" + arch + "/"
			var names []string
			for name := range files {
				names = append(names, name)
			}
			slices.Sort(names)
			if diff := cmp.Diff([]string{prefix + "LICENSE", prefix + "README.md", prefix + exe}, names); diff != "" {
				t.Errorf("archive contents (-want +got):\n%s", diff)
			}
			if !bytes.Equal(files[prefix+exe], built) {
				t.Errorf("the archive's %s is not dist/setwarden_%s_%s/%s", exe, goos, arch, exe)
			}
			assertReleaseBuild(t, filepath.Join(dist, "setwarden_"+goos+"_"+arch, exe), goos, arch)
			// The -X stamp: only the host's binary runs here, the others hold the same strings.
			for _, stamp := range []string{version, revision} {
				if !bytes.Contains(built, []byte(stamp)) {
					t.Errorf("the %s binary does not hold the release stamp %q", p, stamp)
				}
			}
		})
	}
}

// archiveName is the archive of one platform.
func archiveName(semver, goos, arch string) string {
	if goos == "windows" {
		return "setwarden_" + semver + "_" + goos + "_" + arch + ".zip"
	}
	return "setwarden_" + semver + "_" + goos + "_" + arch + ".tar.gz"
}

// archiveFiles reads the regular files of a tar.gz or zip archive.
func archiveFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name] = b
		}
		return files
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return tarFiles(t, gz)
}

// tarFiles reads the regular files of a tar stream.
func tarFiles(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
}

// assertReleaseBuild checks, from the build information `go version -m`
// reads, that a binary was built as the release is (static, -trimpath, for
// its platform), and from the binary that it is stripped (-s -w: no DWARF,
// and for ELF no symbol table). The build information does not record
// -ldflags under -trimpath, so those are read from the file itself.
func assertReleaseBuild(t *testing.T, path, goos, arch string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "version", "-m", path).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m %s: %v\n%s", path, err, out)
	}
	settings := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "build\t"); ok {
			if k, v, ok := strings.Cut(rest, "="); ok {
				settings[k] = v
			}
		}
	}
	want := map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": goos, "GOARCH": arch}
	for k, v := range want {
		if settings[k] != v {
			t.Errorf("%s was built with %s=%q, want %q", path, k, settings[k], v)
		}
	}
	var dwarfErr error
	switch goos {
	case "linux":
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Section(".symtab") != nil {
			t.Errorf("%s has a symbol table: built without -s", path)
		}
		_, dwarfErr = f.DWARF()
	case "darwin":
		f, err := macho.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, dwarfErr = f.DWARF()
	case "windows":
		f, err := pe.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, dwarfErr = f.DWARF()
	}
	if dwarfErr == nil {
		t.Errorf("%s has DWARF debugging information: built without -w", path)
	}
}

// TestDistChecksums checks that SHA256SUMS lists the archive of every
// platform the dist declares, the SBOM, the chart and the image, each with its
// SHA-256.
func TestDistChecksums(t *testing.T) {
	dist := distDir(t)
	declared := distPlatforms(t, dist)
	f, err := os.Open(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var listed []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not \"<sha256>  <file>\" (sha256sum's format)", sc.Text())
		}
		data, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatalf("SHA256SUMS lists %s: %v", name, err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			t.Errorf("SHA256SUMS says %s for %s, the file's is %x", sum, name, got)
		}
		listed = append(listed, name)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, pattern := range []string{"*.tar.gz", "*.zip", "*.cdx.json", "*.tgz", "setwarden-image.tar"} {
		m, err := filepath.Glob(filepath.Join(dist, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			want = append(want, filepath.Base(p))
		}
	}
	slices.Sort(want)
	slices.Sort(listed)
	if diff := cmp.Diff(want, listed); diff != "" {
		t.Errorf("files SHA256SUMS lists (-want +got):\n%s", diff)
	}
	if len(listed) != len(declared)+3 {
		t.Errorf("SHA256SUMS lists %d files, want %d archives, the SBOM, the chart and the image", len(listed), len(declared))
	}
}

// TestDistSBOM checks that the SBOM is CycloneDX JSON describing setwarden
// at the release's version and the modules linked into it.
func TestDistSBOM(t *testing.T) {
	dist := distDir(t)
	version, semver := distVersion(t, dist)
	data, err := os.ReadFile(filepath.Join(dist, "setwarden_"+semver+".cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
		Metadata    struct {
			Component struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Purl    string `json:"purl"`
			} `json:"component"`
		} `json:"metadata"`
		Components []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &bom); err != nil {
		t.Fatalf("the SBOM is not JSON: %v", err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion == "" {
		t.Errorf("bomFormat %q specVersion %q, want CycloneDX", bom.BOMFormat, bom.SpecVersion)
	}
	if c := bom.Metadata.Component; c.Name != "github.com/setwarden/setwarden" || c.Version != version {
		t.Errorf("the SBOM describes %s at %s, want github.com/setwarden/setwarden at the release's %s", c.Name, c.Version, version)
	}
	if !slices.ContainsFunc(bom.Components, func(c struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}) bool {
		return c.Name == "k8s.io/api"
	}) {
		t.Errorf("the SBOM's %d components do not list k8s.io/api, which setwarden links", len(bom.Components))
	}
}

// TestDistChart checks that the packaged chart's version and appVersion are
// the release's and that its image is the release image, by digest.
func TestDistChart(t *testing.T) {
	dist := distDir(t)
	_, semver := distVersion(t, dist)
	files := archiveFiles(t, filepath.Join(dist, "setwarden-"+semver+".tgz"))
	var chart struct {
		Version    string `json:"version"`
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(files["setwarden/Chart.yaml"], &chart); err != nil {
		t.Fatal(err)
	}
	if chart.Version != semver || chart.AppVersion != semver {
		t.Errorf("Chart.yaml version %q appVersion %q, want %q for both", chart.Version, chart.AppVersion, semver)
	}
	var values struct {
		Image struct{ Repository, Tag, Digest string } `json:"image"`
	}
	if err := yaml.Unmarshal(files["setwarden/values.yaml"], &values); err != nil {
		t.Fatal(err)
	}
	digest, err := os.ReadFile(filepath.Join(dist, "setwarden-image.digest"))
	if err != nil {
		t.Fatal(err)
	}
	if values.Image.Digest != strings.TrimSpace(string(digest)) || values.Image.Tag != "" {
		t.Errorf("image %+v, want the digest of dist/setwarden-image.tar, %s, and the tag appVersion", values.Image, digest)
	}
}

// maxLinuxAMD64Binary is the size budget of the linux/amd64 binary. It is
// 42 MB since charts render on internal/helm/template; it was 59 MB while a
// standard text/template execution was reachable, which makes the linker
// keep every exported method of every type used through an interface, and
// `setwarden serve` then held 11 MiB more resident memory
// (internal/helm/template's package comment).
const maxLinuxAMD64Binary = 48 << 20

// TestDistBinarySizeBudget fails when the shipped binary jumps past its
// budget, which is how such a regression shows before make bench measures
// the memory it costs.
func TestDistBinarySizeBudget(t *testing.T) {
	dist := distDir(t)
	if !slices.Contains(distPlatforms(t, dist), "linux/amd64") {
		t.Skip("the dist holds no linux/amd64 binary")
	}
	info, err := os.Stat(filepath.Join(dist, "setwarden_linux_amd64", "setwarden"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() > maxLinuxAMD64Binary {
		t.Errorf("the linux/amd64 binary is %.1f MiB, over its budget of %d MiB: look for a text/template execution "+
			"(or another reflect method lookup by a name known only at run time) that became reachable, comparing "+
			"`go tool nm -size -sort size` of this build with one within the budget", float64(info.Size())/(1<<20), maxLinuxAMD64Binary>>20)
	}
}
