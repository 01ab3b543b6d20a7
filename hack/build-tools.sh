#!/usr/bin/env bash
# Builds the binaries the end-to-end tests need (etcd, kube-apiserver, kubectl,
# helm) from the Go module proxy into bin/, skipping any that already exist.
# The first cold build takes about ten minutes on a 2-core machine.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${root}/bin"
mkdir -p "${bin}"

build() { # build <tools module dir> <output name> <package>
	local dir="$1" out="$2" pkg="$3"
	if [[ -x "${bin}/${out}" ]]; then
		return 0
	fi
	echo "build-tools: building ${out} from ${pkg}" >&2
	(cd "${root}/hack/tools/${dir}" &&
		CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${bin}/${out}.tmp" "${pkg}")
	mv "${bin}/${out}.tmp" "${bin}/${out}"
}

build etcd etcd go.etcd.io/etcd/server/v3
build kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube kubectl k8s.io/kubernetes/cmd/kubectl
build helm helm helm.sh/helm/v3/cmd/helm
