// Command image assembles setwarden's release image from the linux binaries
// `make dist` built, without Docker or a registry: an OCI image index of
// the linux architectures -arch names (linux/amd64 and linux/arm64 for a
// release), written as an OCI layout tarred into <dist>/setwarden-image.tar,
// its digest in <dist>/setwarden-image.digest.
//
// The image is FROM scratch, holding what matters of the Dockerfile's
// distroless static nonroot base: /etc/passwd and /etc/group with root,
// nobody and nonroot (65532), nonroot's home and /tmp. It has no CA
// certificates and no tzdata: setwarden talks only to the Kubernetes API
// server, whose CA comes from the service account or the kubeconfig, and it
// prints times in UTC. Every timestamp is SOURCE_DATE_EPOCH, so the same
// binaries give the same digest.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user, as distroless's nonroot images have it.
const (
	nonrootUID = 65532
	binaryPath = "usr/local/bin/setwarden"
)

type options struct {
	dist       string
	tag        string
	version    string
	revision   string
	repository string
	licenses   string
	// arches are the linux architectures of the index, in its order.
	arches  []string
	created time.Time
}

func main() {
	var o options
	flag.StringVar(&o.dist, "dist", "dist", "the folder with setwarden_linux_<arch>/setwarden, where the image goes")
	flag.StringVar(&o.tag, "tag", "", "the image's tag (the version in SemVer, without the v), required")
	flag.StringVar(&o.version, "version", "", "the version setwarden prints, for org.opencontainers.image.version (default: the tag)")
	flag.StringVar(&o.revision, "revision", "", "the VCS commit the binaries were built from")
	flag.StringVar(&o.repository, "repository", "ghcr.io/setwarden/setwarden", "the repository the image is published to")
	flag.StringVar(&o.licenses, "licenses", "Apache-2.0", "SPDX license expression of org.opencontainers.image.licenses")
	arches := flag.String("arch", "amd64,arm64", "the linux architectures to include, comma-separated, each from dist/setwarden_linux_<arch>/setwarden")
	flag.Parse()
	if o.tag == "" {
		log.Fatal("image: -tag is required")
	}
	var err error
	if o.arches, err = parseArches(*arches); err != nil {
		log.Fatalf("image: -arch %q: %v", *arches, err)
	}
	if o.version == "" {
		o.version = o.tag
	}
	epoch, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		epoch = 0
	}
	o.created = time.Unix(epoch, 0).UTC()
	digest, err := build(o)
	if err != nil {
		log.Fatalf("image: %v", err)
	}
	fmt.Fprintf(os.Stderr, "image: %s:%s@%s in %s\n", o.repository, o.tag, digest,
		filepath.Join(o.dist, "setwarden-image.tar"))
}

// parseArches reads -arch: at least one GOARCH, none twice.
func parseArches(s string) ([]string, error) {
	var arches []string
	for _, a := range strings.Split(s, ",") {
		switch {
		case !regexp.MustCompile(`^[a-z0-9]+$`).MatchString(a):
			return nil, fmt.Errorf("%q is not a GOARCH such as amd64", a)
		case slices.Contains(arches, a):
			return nil, fmt.Errorf("%s is named twice", a)
		}
		arches = append(arches, a)
	}
	return arches, nil
}

// build writes the tarball and the digest file and returns the digest.
func build(o options) (v1.Hash, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range o.arches {
		img, err := platformImage(o, arch)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("linux/%s: %w", arch, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	digest, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	dir, err := os.MkdirTemp("", "setwarden-image-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	// ref.name, the whole reference, is the name podman load and skopeo
	// give the image.
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.repository + ":" + o.tag,
	})); err != nil {
		return v1.Hash{}, err
	}
	if err := tarDir(dir, filepath.Join(o.dist, "setwarden-image.tar"), o.created); err != nil {
		return v1.Hash{}, err
	}
	return digest, os.WriteFile(filepath.Join(o.dist, "setwarden-image.digest"), []byte(digest.String()+"\n"), 0o644)
}

// platformImage is the image of one architecture.
func platformImage(o options, arch string) (v1.Image, error) {
	bin, err := os.ReadFile(filepath.Join(o.dist, "setwarden_linux_"+arch, "setwarden"))
	if err != nil {
		return nil, err
	}
	rootfs, err := rootfsTar(bin, o.created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "setwarden hack/tools/release/image", Comment: "setwarden " + o.version},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: o.created}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", nonrootUID, nonrootUID),
		Entrypoint: []string{"/" + binaryPath},
		Cmd:        []string{"serve"},
		WorkingDir: "/home/nonroot",
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "setwarden",
			"org.opencontainers.image.source":   "https://github.com/setwarden/setwarden",
			"org.opencontainers.image.version":  o.version,
			"org.opencontainers.image.revision": o.revision,
			"org.opencontainers.image.licenses": o.licenses,
			"org.opencontainers.image.created":  o.created.Format(time.RFC3339),
		},
	}
	return mutate.ConfigFile(img, cf)
}

// rootfsTar is the image's one layer.
func rootfsTar(bin []byte, mtime time.Time) ([]byte, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
	entries := []struct {
		name     string
		mode     int64
		uid      int
		contents []byte
		dir      bool
	}{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, contents: []byte(group)},
		{name: "etc/passwd", mode: 0o644, contents: []byte(passwd)},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: nonrootUID, dir: true},
		{name: "root/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: binaryPath, mode: 0o755, contents: bin},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime, Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.contents))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.contents); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), tw.Close()
}

// tarDir tars the OCI layout in dir into out, in name order with fixed
// owners and times, as `podman load` and `skopeo copy oci-archive:` read it.
func tarDir(dir, out string, mtime time.Time) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime, Mode: 0o644, Format: tar.FormatPAX}
		if d.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			return tw.WriteHeader(h)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
