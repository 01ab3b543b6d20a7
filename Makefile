# setwarden: `make test` builds the test binaries (once, into bin/) and runs
# every test, end-to-end tests against a real kube-apiserver included.

SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
export KUBEBUILDER_ASSETS := $(BIN)

.PHONY: all build tools test unit e2e vet fmt-check check-examples bench clean

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

## test: formatting, vet, and every test (unit, golden, chart, e2e) with the tool binaries
test: tools fmt-check vet
	$(GO) test ./... -count=1

## unit: the tests that need no API server
unit:
	$(GO) test $$($(GO) list ./... | grep -v /test/) -count=1

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## bench: the admission handler benchmarks
bench:
	$(GO) test ./webhook/ -run '^$$' -bench . -benchmem

clean:
	rm -rf $(BIN)
