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

label=build-peers
# shellcheck source=hack/build-lib.sh
source "${root}/hack/build-lib.sh"

# Stripped and static like setwarden's shipped binary and the projects' own
# images, so resident memory compares like with like.
build kyverno kyverno github.com/kyverno/kyverno/cmd/kyverno
build gatekeeper gatekeeper github.com/open-policy-agent/gatekeeper/v3
