# setwarden: `make test` builds the test binaries (once, into bin/) and runs
# every test, end-to-end tests against a real kube-apiserver included.

SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
export KUBEBUILDER_ASSETS := $(BIN)
# GOTOOLCHAIN=auto makes the go command use go.mod's toolchain line (go1.26.10:
# the standard library fixes govulncheck asks for) when the installed Go is
# older; it fetches that release from the Go module proxy once. Machines whose
# Go environment says GOTOOLCHAIN=local would otherwise ignore the line.
export GOTOOLCHAIN ?= auto

.PHONY: all build tools test unit e2e vet lint fmt-check check-examples bench clean

all: build

## build: the setwarden binary, into bin/
build:
	$(GO) build -o $(BIN)/setwarden ./cmd/setwarden

## tools: etcd, kube-apiserver, kubectl and helm from the Go module proxy, into bin/ (skips what exists)
tools:
	hack/build-tools.sh

## check-examples: setwarden's main job over the bundled examples (exit 1: examples/broken is denied on purpose)
check-examples:
	$(GO) run ./cmd/setwarden check examples/

## test: formatting, vet, every test (unit, golden, corpus, chart, e2e, fidelity subset), each fuzz
## target briefly, and the check benchmark once (figures are printed, never asserted)
test: tools fmt-check vet
	$(GO) test $$($(GO) list ./... | grep -v /test/) -count=1
	@# The suites on a real API server run one package at a time: each starts its own etcd and kube-apiserver,
	@# and the TLS rotation and restart tests time certificates in seconds on 2 cores.
	$(GO) test -p 1 ./test/... -count=1 -timeout 30m
	@$(MAKE) --no-print-directory fuzz-smoke
	$(GO) test ./cmd/setwarden/app -run '^$$' -bench 'Check100k' -benchtime 1x -benchmem

## lint: formatting, vet and govulncheck (offline, against the pinned vulnerability database)
lint: fmt-check vet vuln

## unit: the tests that need no API server
unit:
	$(GO) test $$($(GO) list ./... | grep -v /test/) -count=1

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## bench: the five performance measurements (decision benchmarks, webhook load, creates through kube-apiserver
## with no admission / setwarden / native policies, memory, start-up) and the check benchmarks at 1
## and 2 cores; prints one table of figures, targets and verdicts (never asserted), with the machine
bench: tools
	@mkdir -p $(BIN)/bench && $(GO) run ./test/perf/benchtable -out $(BIN)/bench/figures.jsonl start
	set -o pipefail; $(GO) test ./webhook/ -run '^$$' -bench . -benchmem -count 5 | tee $(BIN)/bench/decision.txt
	$(GO) test ./cmd/setwarden/app -run '^$$' -bench 'Check' -benchtime 1x -benchmem -cpu 1,2
	SETWARDEN_PERF=1 SETWARDEN_PERF_OUT=$(BIN)/bench/figures.jsonl $(GO) test ./test/perf -count=1 -v -timeout 30m \
		-run '^(TestWebhookLoad|TestAPIServerAdmission|TestMemoryAndStartup)$$'
	@$(GO) run ./test/perf/benchtable -out $(BIN)/bench/figures.jsonl -decision $(BIN)/bench/decision.txt print

clean:
	rm -rf $(BIN)

## fidelity: the differential tests on their full sets (10,000 workload variants through a real
## kube-apiserver's dry run, 20,000 placements against the scheduler's matching); prints the agreement
.PHONY: fidelity
fidelity: tools
	$(GO) test ./test/fidelity/ -count=1 -v -timeout 30m -fidelity.full

# Fuzzing: every `go test -fuzz` target, as package:name. Their
# seed corpora (testdata/fuzz/) run in every plain `go test` as well.
FUZZ_TARGETS := ./policies/:FuzzRulesEvaluate ./policies/:FuzzMutateAgentTolerations \
	./webhook/:FuzzAdmissionReview ./internal/manifest/:FuzzManifestReader \
	./internal/fastyaml/:FuzzFastYAML ./internal/kjson/:FuzzUnmarshalAgreesWithSigsJSON
# The smoke run in `make test` counts executions instead of seconds: Go 1.26's
# fuzzing coordinator can fail a target with a bare "context deadline exceeded"
# when a duration runs out while a worker is busy (go.dev/issue/75804, fixed in
# Go 1.27), which a loaded 2-core machine hits now and then.
FUZZ_SMOKE_TIME ?= 2000x
FUZZ_TIME ?= 3m
# FUZZ_WORKERS bounds the fuzzing processes: the CI machine has 2 cores.
FUZZ_WORKERS ?= 2

.PHONY: fuzz fuzz-smoke vuln

## fuzz-smoke: each fuzz target for $(FUZZ_SMOKE_TIME) (executions), a crash smoke test
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_TIME=$(FUZZ_SMOKE_TIME)

## fuzz: each fuzz target for $(FUZZ_TIME); a crash is saved under the package's testdata/fuzz/ and becomes a regression test
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz: $$name ($$pkg) for $(FUZZ_TIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZ_TIME) -parallel $(FUZZ_WORKERS); \
	done

# VULNDB_VERSION pins the Go vulnerability database, which vuln.go.dev
# serves but this build cannot reach: the same data ships as the Go module
# golang.org/x/vulndb (from the Go module proxy), whose data/osv folder is a
# flat directory of OSV entries that govulncheck reads with -db file://.
# `make vuln VULNDB_VERSION=latest` checks against the newest snapshot.
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018

$(BIN)/govulncheck:
	cd hack/tools/govulncheck && CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $@ golang.org/x/vuln/cmd/govulncheck

## vuln: govulncheck over ./... (reachable vulnerabilities only), offline, against the pinned database
vuln: $(BIN)/govulncheck
	@dir=$$(cd hack/tools/govulncheck && $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | \
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	if [ ! -d "$$dir/data/osv" ]; then \
		echo "vuln: golang.org/x/vulndb@$(VULNDB_VERSION) has no data/osv folder (or could not be downloaded from the Go module proxy)" >&2; exit 1; \
	fi; \
	echo "vuln: database golang.org/x/vulndb@$(VULNDB_VERSION) ($$(ls $$dir/data/osv | wc -l) entries)"; \
	$(BIN)/govulncheck -db "file://$$dir/data/osv" ./...
