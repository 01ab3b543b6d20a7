package release

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ociDescriptor is an OCI content descriptor.
type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

// ociIndex is an OCI image index (index.json, or a multi-platform index).
type ociIndex struct {
	MediaType string          `json:"mediaType"`
	Manifests []ociDescriptor `json:"manifests"`
}

// ociManifest is an OCI image manifest.
type ociManifest struct {
	MediaType string          `json:"mediaType"`
	Config    ociDescriptor   `json:"config"`
	Layers    []ociDescriptor `json:"layers"`
}

// ociConfig is the part of an image config the tests read.
type ociConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Env        []string          `json:"Env"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// ociLayout is the OCI layout in dist/setwarden-image.tar, its blobs checked
// against their digests.
type ociLayout struct {
	t     *testing.T
	files map[string][]byte
}

func openImage(t *testing.T, dist string) ociLayout {
	t.Helper()
	f, err := os.Open(filepath.Join(dist, "setwarden-image.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := ociLayout{t: t, files: tarFiles(t, f)}
	var layout struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(l.files["oci-layout"], &layout); err != nil || layout.ImageLayoutVersion != "1.0.0" {
		t.Fatalf("oci-layout = %q (%v), want imageLayoutVersion 1.0.0", l.files["oci-layout"], err)
	}
	return l
}

// blob returns the blob of a descriptor, checking its size and digest.
func (l ociLayout) blob(d ociDescriptor) []byte {
	l.t.Helper()
	hexDigest, ok := strings.CutPrefix(d.Digest, "sha256:")
	if !ok {
		l.t.Fatalf("digest %q is not sha256", d.Digest)
	}
	b, ok := l.files["blobs/sha256/"+hexDigest]
	if !ok {
		l.t.Fatalf("the layout has no blob %s", d.Digest)
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(b)); got != d.Digest || int64(len(b)) != d.Size {
		l.t.Fatalf("blob %s has digest %s and size %d, want size %d", d.Digest, got, len(b), d.Size)
	}
	return b
}

func (l ociLayout) decode(d ociDescriptor, out any) {
	l.t.Helper()
	if err := json.Unmarshal(l.blob(d), out); err != nil {
		l.t.Fatalf("blob %s (%s): %v", d.Digest, d.MediaType, err)
	}
}

// TestImage opens the image `make image` built and checks it as a registry
// and a container runtime would read it: one index tagged with the version,
// for the linux platforms the dist declares (linux/amd64 and linux/arm64 in
// a release), each FROM scratch with only /etc/passwd,
// /etc/group and the release binary (byte for byte dist's), no shell, user
// 65532, entrypoint setwarden, argument serve, the OCI labels, and the same
// user, entrypoint and argument as the Dockerfile's image.
func TestImage(t *testing.T) {
	dist := distDir(t)
	version, semver := distVersion(t, dist)
	l := openImage(t, dist)
	var top ociIndex
	if err := json.Unmarshal(l.files["index.json"], &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("index.json manifests %+v, want one image index", top.Manifests)
	}
	if ref := top.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; !strings.HasSuffix(ref, ":"+semver) {
		t.Errorf("the index is named %q, want a reference tagged %q", ref, semver)
	}
	digest, err := os.ReadFile(filepath.Join(dist, "setwarden-image.digest"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(digest)); got != top.Manifests[0].Digest {
		t.Errorf("setwarden-image.digest says %s, the index is %s", got, top.Manifests[0].Digest)
	}
	var idx ociIndex
	l.decode(top.Manifests[0], &idx)
	var got []string
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			t.Fatalf("manifest %s names no platform", m.Digest)
		}
		platform := m.Platform.OS + "/" + m.Platform.Architecture
		got = append(got, platform)
		t.Run(platform, func(t *testing.T) {
			checkPlatformImage(t, l, m, dist, version)
		})
	}
	var want []string
	for _, p := range distPlatforms(t, dist) {
		if strings.HasPrefix(p, "linux/") {
			want = append(want, p)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the image's platforms (-the dist's linux platforms +got):\n%s", diff)
	}
}

func checkPlatformImage(t *testing.T, l ociLayout, desc ociDescriptor, dist, version string) {
	var m ociManifest
	l.decode(desc, &m)
	var cfg ociConfig
	l.decode(m.Config, &cfg)
	arch := desc.Platform.Architecture
	if cfg.OS != "linux" || cfg.Architecture != arch {
		t.Errorf("config platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, arch)
	}
	d := parseDockerfile(t)
	got := dockerfile{User: cfg.Config.User, Entrypoint: cfg.Config.Entrypoint, Cmd: cfg.Config.Cmd}
	want := dockerfile{User: d.User, Entrypoint: d.Entrypoint, Cmd: d.Cmd}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user, entrypoint and argument (-Dockerfile +make image):\n%s", diff)
	}
	if got.User != "65532:65532" || !slices.Equal(got.Entrypoint, []string{"/usr/local/bin/setwarden"}) || !slices.Equal(got.Cmd, []string{"serve"}) {
		t.Errorf("user %q entrypoint %q cmd %q, want 65532:65532, /usr/local/bin/setwarden, serve", got.User, got.Entrypoint, got.Cmd)
	}
	labels := cfg.Config.Labels
	for _, label := range imageLabels {
		if labels[label] == "" {
			t.Errorf("no label %s (labels %v)", label, labels)
		}
	}
	if got := labels["org.opencontainers.image.licenses"]; got != licenseSPDX(t) {
		t.Errorf("the image's licence label is %q, the LICENSE file's is %q", got, licenseSPDX(t))
	}
	if labels["org.opencontainers.image.version"] != version || labels["org.opencontainers.image.source"] != "https://github.com/setwarden/setwarden" {
		t.Errorf("labels %v, want version %s and the repository as source", labels, version)
	}

	// FROM scratch: one layer, ours.
	if len(m.Layers) != 1 || len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("%d layers, %d diff_ids; want the one layer make image writes", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	gz, err := gzip.NewReader(bytes.NewReader(l.blob(m.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(gz); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(raw.Bytes())); got != cfg.RootFS.DiffIDs[0] {
		t.Errorf("the layer's diff_id is %s, the config says %s", got, cfg.RootFS.DiffIDs[0])
	}
	files := tarFiles(t, bytes.NewReader(raw.Bytes()))
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	// No shell, no package manager, no libc: exactly these files.
	if diff := cmp.Diff([]string{"etc/group", "etc/passwd", "usr/local/bin/setwarden"}, names); diff != "" {
		t.Errorf("files in the image (-want +got):\n%s", diff)
	}
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:[^:]*:/home/nonroot:/sbin/nologin$`).Match(files["etc/passwd"]) {
		t.Errorf("/etc/passwd has no nonroot user 65532, as distroless's:\n%s", files["etc/passwd"])
	}
	built, err := os.ReadFile(filepath.Join(dist, "setwarden_linux_"+arch, "setwarden"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files["usr/local/bin/setwarden"], built) {
		t.Errorf("the image's /usr/local/bin/setwarden is not dist/setwarden_linux_%s/setwarden", arch)
	}
}

// TestImageRuns runs the image with podman, when it is installed and can
// run containers here: `setwarden version`, then `setwarden check` on the
// mounted examples, with no network. podman's default runtime comes first,
// then runc (crun refuses hosts with hybrid cgroups). The open-files and
// processes limits are lowered to 1024: podman raises them otherwise, which
// a host without CAP_SYS_RESOURCE refuses, and setwarden needs few.
func TestImageRuns(t *testing.T) {
	dist := distDir(t)
	version, _ := distVersion(t, dist)
	if !slices.Contains(distPlatforms(t, dist), "linux/"+runtime.GOARCH) {
		t.Skipf("running the image skipped: it has no linux/%s image to run here", runtime.GOARCH)
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("running the image skipped: podman is not installed (apt-get install podman runc); TestImage checked the image without it")
	}
	podmanRun := func(args ...string) (int, string) {
		return exitCode(t, exec.CommandContext(t.Context(), podman, args...))
	}
	if code, out := podmanRun("info"); code != 0 {
		t.Skipf("running the image skipped: podman cannot run containers on this machine:\n%s", out)
	}
	code, out := podmanRun("load", "-i", filepath.Join(dist, "setwarden-image.tar"))
	if code != 0 {
		t.Fatalf("podman load exited %d:\n%s", code, out)
	}
	m := regexp.MustCompile(`(?m)^Loaded image(?:\(s\))?: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("podman load named no image:\n%s", out)
	}
	ref := m[1]
	runtimes := [][]string{nil}
	if _, err := exec.LookPath("runc"); err == nil {
		runtimes = append(runtimes, []string{"--runtime", "runc"})
	}
	var runArgs []string
	var failures []string
	for _, rt := range runtimes {
		args := append(slices.Clone(rt), "run", "--rm", "--network", "none",
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
		code, out := podmanRun(append(args, ref, "version")...)
		if code == 0 {
			runArgs = args
			if !strings.HasPrefix(out, "setwarden "+version+" ") {
				t.Errorf("setwarden version in the image printed %q, want the release's %s", out, version)
			}
			break
		}
		failures = append(failures, fmt.Sprintf("podman %s %s version: exit %d\n%s", strings.Join(args, " "), ref, code, out))
	}
	if runArgs == nil {
		if sandboxed(strings.Join(failures, "\n")) {
			t.Skipf("running the image skipped: podman loaded it but cannot start containers on this machine:\n%s", strings.Join(failures, "\n"))
		}
		t.Fatalf("the image does not run:\n%s", strings.Join(failures, "\n"))
	}
	t.Logf("ran %s with podman %s", ref, strings.Join(runArgs, " "))
	examples, err := filepath.Abs(filepath.Join(repoRoot, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	for dir, wantExit := range map[string]int{"good": 0, "broken": 1} {
		args := append(slices.Clone(runArgs), "-v", examples+":/examples:ro", ref, "check", "/examples/"+dir)
		if code, out := podmanRun(args...); code != wantExit {
			t.Errorf("podman %s exited %d, want %d:\n%s", strings.Join(args, " "), code, wantExit, out)
		}
	}
}

// sandboxed tells a machine where no container can start (no cgroups the
// runtime supports, limits it may not set, no user namespaces) from an
// image that does not run.
func sandboxed(out string) bool {
	for _, s := range []string{"cgroups in hybrid mode", "error setting rlimit", "setrlimit", "newuidmap", "cannot set up namespace"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}
