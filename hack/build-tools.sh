#!/usr/bin/env bash
# Builds the binaries the end-to-end tests need (etcd, kube-apiserver, kubectl,
# helm, and for the cluster-in-a-box tests kube-scheduler,
# kube-controller-manager and kwok) from the Go module proxy into bin/,
# skipping any that are already built from the same module and flags.
# The first cold build takes about fifteen minutes on a 2-core machine.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${root}/bin"
mkdir -p "${bin}"

label=build-tools
# shellcheck source=hack/build-lib.sh
source "${root}/hack/build-lib.sh"

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
# The cluster in a box (test/cluster): the real scheduler and controllers,
# with KWOK simulating the Nodes and the pods' lifecycles.
build kube kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "${kube_ldflags}"
build kube kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "${kube_ldflags}"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok

rm -f "${bin}/.tools-stamp"
