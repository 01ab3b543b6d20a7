#!/usr/bin/env bash
# Builds the binaries the end-to-end tests need (etcd, kube-apiserver, kubectl,
# helm) from the Go module proxy into bin/, skipping any that already exist.
# The first cold build takes about ten minutes on a 2-core machine.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${root}/bin"
mkdir -p "${bin}"

# A stamp of this script and the tools modules: when either changes (a new
# version, new flags), every binary is rebuilt.
stamp="$(cat "$0" "${root}"/hack/tools/*/go.mod | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "${bin}/.tools-stamp" 2>/dev/null)" != "${stamp}" ]]; then
	rm -f "${bin}"/{etcd,kube-apiserver,kubectl,helm,govulncheck}
fi

build() { # build <tools module dir> <output name> <package> [ldflags]
	local dir="$1" out="$2" pkg="$3" ldflags="${4:-}"
	if [[ -x "${bin}/${out}" ]]; then
		return 0
	fi
	echo "build-tools: building ${out} from ${pkg}" >&2
	(cd "${root}/hack/tools/${dir}" &&
		CGO_ENABLED=0 go build -trimpath -ldflags="-s -w ${ldflags}" -o "${bin}/${out}.tmp" "${pkg}")
	mv "${bin}/${out}.tmp" "${bin}/${out}"
}

build etcd etcd go.etcd.io/etcd/server/v3
# Kubernetes' release version stamps, so /version reports v1.37.2 (helm
# checks a chart's kubeVersion against it) instead of v0.0.0-master.
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X ${pkg}.gitVersion=v1.37.2 -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=37 -X ${pkg}.gitTreeState=clean"
done
build kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "${kube_ldflags}"
build kube kubectl k8s.io/kubernetes/cmd/kubectl "${kube_ldflags}"
# helm's own release flags: its version, and the Kubernetes version it
# assumes without a cluster (that of the k8s.io modules it is built with,
# v0.37), so `helm template` accepts charts that require a recent cluster.
helm_pkg=helm.sh/helm/v3
helm_ldflags="-X ${helm_pkg}/internal/version.version=v3.22.0 -X ${helm_pkg}/internal/version.gitTreeState=clean"
for pkg in pkg/lint/rules pkg/chartutil; do
	helm_ldflags+=" -X ${helm_pkg}/${pkg}.k8sVersionMajor=1 -X ${helm_pkg}/${pkg}.k8sVersionMinor=37"
done
build helm helm "${helm_pkg}/cmd/helm" "${helm_ldflags}"
build govulncheck govulncheck golang.org/x/vuln/cmd/govulncheck

echo "${stamp}" > "${bin}/.tools-stamp"
