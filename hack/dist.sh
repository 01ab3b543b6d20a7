#!/usr/bin/env bash
# Builds the release into dist/ (`make dist`): the setwarden binary for
# linux, darwin and windows on amd64 and arm64, each in an archive (tar.gz,
# zip for windows) with the LICENSE and README; a CycloneDX SBOM; the release image as an
# OCI tarball (hack/tools/release/image); the Helm chart, whose image
# defaults to that image's tag and digest; and SHA256SUMS over all of them.
#
# Environment: VERSION (v0.4.0; default: git describe, else v<appVersion>-dev),
# REVISION (default: the commit), SOURCE_DATE_EPOCH (every timestamp; default:
# the commit's time), DIST (default: dist), PLATFORMS (os/arch, separated by
# spaces; default: the six), IMAGE_REPOSITORY, IMAGE_LICENSES. The image holds
# the linux platforms of PLATFORMS, so there must be one; `make test` builds
# linux/<its arch> alone. dist/.release.env records the stamp and the
# platforms, which test/release checks the dist against. The same commit and
# VERSION give the same binaries, archives and image digest, so a rebuild can
# check them.
#
# `hack/dist.sh image` (`make image`) only rebuilds the image from the linux
# binaries already in dist/, for the platforms dist/.release.env records.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "${root}"
GO="${GO:-go}"
# As the Makefile: go.mod's toolchain line (the standard library's security
# fixes) even where the go env file says GOTOOLCHAIN=local.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
dist="$(realpath -m "${DIST:-dist}")"
chart_dir=charts/setwarden
app_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "${chart_dir}/Chart.yaml")"
version="${VERSION:-$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo "v${app_version}-dev")}"
revision="${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
if [[ -z "${REVISION:-}" && -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
	revision+="-dirty"
fi
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
# test/release reads this line: a full release (make release-test) holds exactly these.
platforms="${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}"
# Chart versions and image tags are SemVer without the v of Go's module versions.
semver="${version#v}"
image_repository="${IMAGE_REPOSITORY:-ghcr.io/setwarden/setwarden}"

# The build flags of the Dockerfile's RUN line (test/release keeps them equal),
# plus the release stamp that `setwarden version` prints.
pkg=github.com/setwarden/setwarden/internal/version
ldflags="-s -w -X ${pkg}.version=${version} -X ${pkg}.revision=${revision}"

stage="$(mktemp -d)"
trap 'rm -rf "${stage}"' EXIT

# image_arches sets arches to the linux architectures of ${platforms}, in
# their order, the image's platforms; it fails when there is none.
image_arches() {
	arches=()
	local platform
	for platform in ${platforms}; do
		if [[ ! "${platform}" =~ ^[a-z0-9]+/[a-z0-9]+$ ]]; then
			echo "dist: platform \"${platform}\" in PLATFORMS is not os/arch, such as linux/amd64" >&2
			return 1
		fi
		[[ "${platform%/*}" == linux ]] && arches+=("${platform#*/}")
	done
	if ((${#arches[@]} == 0)); then
		echo "dist: PLATFORMS=\"${platforms}\" has no linux platform; the image needs one (add linux/amd64 or linux/arm64)" >&2
		return 1
	fi
}

image() {
	echo "dist: image (linux/${arches[*]})" >&2
	local arch
	for arch in "${arches[@]}"; do
		if [[ ! -x "${dist}/setwarden_linux_${arch}/setwarden" ]]; then
			echo "image: no ${dist}/setwarden_linux_${arch}/setwarden: run make dist first" >&2
			return 1
		fi
	done
	(IFS=, && cd hack/tools/release/image && "${GO}" run . -arch "${arches[*]}" \
		-dist "${dist}" -tag "${semver}" -version "${version}" -revision "${revision}" \
		-repository "${image_repository}" -licenses "${IMAGE_LICENSES:-Apache-2.0}")
}

if [[ "${1:-}" == image ]]; then
	# The stamp and platforms of the binaries in dist/, not of the work tree
	# now, so that the image is the one make dist built, to the digest.
	if [[ -f "${dist}/.release.env" ]]; then
		# shellcheck source=/dev/null
		source "${dist}/.release.env"
		semver="${version#v}"
	fi
	image_arches
	image
	exit
fi

# Before compiling for minutes: the platforms are well formed, include a
# linux one for the image, and none twice (SHA256SUMS would list it twice).
image_arches
read -ra platform_list <<<"${platforms}"
if [[ -n "$(printf '%s\n' "${platform_list[@]}" | sort | uniq -d)" ]]; then
	echo "dist: PLATFORMS=\"${platforms}\" names a platform twice" >&2
	exit 1
fi
platforms="${platform_list[*]}"

if [[ "${dist}" == / || "${dist}" == "${root}" ]]; then
	echo "dist: DIST=${dist} would remove more than the release" >&2
	exit 1
fi
rm -rf "${dist}"
mkdir -p "${dist}"
printf 'version=%q\nrevision=%q\nSOURCE_DATE_EPOCH=%q\nplatforms=%q\n' \
	"${version}" "${revision}" "${SOURCE_DATE_EPOCH}" "${platforms}" > "${dist}/.release.env"
archives=()
for platform in ${platforms}; do
	os="${platform%/*}" arch="${platform#*/}"
	exe=setwarden
	[[ "${os}" == windows ]] && exe=setwarden.exe
	echo "dist: ${os}/${arch}" >&2
	out="${dist}/setwarden_${os}_${arch}"
	CGO_ENABLED=0 GOOS="${os}" GOARCH="${arch}" \
		"${GO}" build -trimpath -ldflags="${ldflags}" -o "${out}/${exe}" ./cmd/setwarden

	name="setwarden_${semver}_${os}_${arch}"
	mkdir -p "${stage}/${name}"
	cp "${out}/${exe}" LICENSE README.md "${stage}/${name}/"
	touch -d "@${SOURCE_DATE_EPOCH}" "${stage}/${name}" "${stage}/${name}"/*
	if [[ "${os}" == windows ]]; then
		(cd "${stage}" && TZ=UTC zip -q -X -r "${dist}/${name}.zip" "${name}")
		archives+=("${name}.zip")
	else
		tar -C "${stage}" --sort=name --mtime="@${SOURCE_DATE_EPOCH}" --owner=0 --group=0 --numeric-owner \
			-cf - "${name}" | gzip -n -9 > "${dist}/${name}.tar.gz"
		archives+=("${name}.tar.gz")
	fi
done

echo "dist: SBOM" >&2
sbom="setwarden_${semver}.cdx.json"
# cyclonedx-gomod names the main module's version from git, with go-git,
# which opens neither a linked work tree (git worktree add) nor sources
# outside git, and then fails. It reads the sources here instead: the root's
# files copied and its folders linked, in a throwaway repository whose one
# commit is tagged with the release's version, so the SBOM names the version
# the binaries print.
sbom_src="${stage}/sbom-src"
mkdir "${sbom_src}"
for f in "${root}"/* "${root}"/.[!.]*; do
	case "${f##*/}" in .git) ;; *) if [[ -d "${f}" ]]; then ln -s "${f}" "${sbom_src}/"; else cp "${f}" "${sbom_src}/"; fi ;; esac
done
(cd "${sbom_src}" && export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=dist.sh \
	GIT_COMMITTER_NAME=dist.sh GIT_AUTHOR_EMAIL= GIT_COMMITTER_EMAIL= GIT_AUTHOR_DATE="@${SOURCE_DATE_EPOCH}" \
	GIT_COMMITTER_DATE="@${SOURCE_DATE_EPOCH}" &&
	git init -q && git commit -q --allow-empty -m "setwarden ${version}" && git tag "${version}")
CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" bin/cyclonedx-gomod app -json -licenses -noserial \
	-main cmd/setwarden -output "${dist}/${sbom}" "${sbom_src}"

image
digest="$(cat "${dist}/setwarden-image.digest")"

echo "dist: chart" >&2
# The packaged chart's image is the release's: appVersion (the default tag)
# is the version, and the digest that of the image built above, so a pull
# gets exactly the image these checksums describe.
cp -r "${chart_dir}" "${stage}/setwarden-chart"
sed -i "s|^  digest: \"\"$|  digest: \"${digest}\"|" "${stage}/setwarden-chart/values.yaml"
grep -q "^  digest: \"${digest}\"$" "${stage}/setwarden-chart/values.yaml"
find "${stage}/setwarden-chart" -exec touch -d "@${SOURCE_DATE_EPOCH}" {} +
bin/helm package "${stage}/setwarden-chart" --version "${semver}" --app-version "${semver}" -d "${dist}" >/dev/null

(cd "${dist}" && sha256sum "${archives[@]}" "${sbom}" "setwarden-${semver}.tgz" setwarden-image.tar > SHA256SUMS)
echo "dist: ${version} in ${dist}/" >&2
