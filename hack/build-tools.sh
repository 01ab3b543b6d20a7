#!/usr/bin/env bash
# Builds the binaries the end-to-end tests need (etcd, kube-apiserver, kubectl,
# helm) from the Go module proxy into bin/, skipping any that already exist.
# The first cold build takes about ten minutes on a 2-core machine.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${root}/bin"
mkdir -p "${bin}"

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
build kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube kubectl k8s.io/kubernetes/cmd/kubectl
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
