#!/usr/bin/env bash
# Builds the peer admission engines the benchmark compares setwarden with
# (make bench, test/perf's peer arms) from the Go module proxy into bin/:
# Kyverno's admission controller and Gatekeeper's manager, each from a tools
# module of its own under hack/tools/. `make test` does not need them. A cold
# build takes several minutes each on a 2-core machine.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${root}/bin"
mkdir -p "${bin}"

# As in build-tools.sh: a stamp per binary, bin/.<name>.stamp, hashes its
# tools module's go.mod, its package and its flags, so only a changed one is
# rebuilt, and a rebuild replaces the binary atomically.
stamp_of() { # stamp_of <tools module dir> <package> <ldflags>
	{ cat "${root}/hack/tools/$1/go.mod"; echo "$2 $3"; } | sha256sum | cut -d' ' -f1
}

build() { # build <tools module dir> <output name> <package> [ldflags]
	local dir="$1" out="$2" pkg="$3" ldflags="${4:-}"
	local stamp stampfile="${bin}/.${out}.stamp"
	stamp="$(stamp_of "${dir}" "${pkg}" "${ldflags}")"
	if [[ -x "${bin}/${out}" && "$(cat "${stampfile}" 2>/dev/null)" == "${stamp}" ]]; then
		return 0
	fi
	echo "build-peers: building ${out} from ${pkg}" >&2
	local start=${SECONDS}
	(cd "${root}/hack/tools/${dir}" &&
		CGO_ENABLED=0 go build -trimpath -ldflags="-s -w ${ldflags}" -o "${bin}/${out}.tmp" "${pkg}")
	mv "${bin}/${out}.tmp" "${bin}/${out}"
	echo "${stamp}" > "${stampfile}"
	echo "build-peers: built ${out} in $((SECONDS - start)) s" >&2
}

# Stripped and static like setwarden's shipped binary and the projects' own
# images, so resident memory compares like with like.
build kyverno kyverno github.com/kyverno/kyverno/cmd/kyverno
build gatekeeper gatekeeper github.com/open-policy-agent/gatekeeper/v3
