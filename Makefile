# tollgate — two commands set everything up on a fresh machine:
#   make run    start the gateway on its embedded default config
#   make test   run every test
# The Makefile installs what it needs (Go modules; Debian packages when a test
# needs them).

SHELL   := bash
GO      ?= go
BIN     := bin/tollgate
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The commit's date, not the clock's: building an unchanged tree again
# stamps the same date, so make build does not link again (the release also
# gets a date that depends only on its commit).
DATE    ?= $(shell TZ=UTC0 git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X github.com/tollgate-dev/tollgate.Version=$(VERSION) \
           -X main.commit=$(COMMIT) -X main.date=$(DATE)
# Test timeout per package; `make test` stays well under 10 minutes on 2 cores.
TEST_TIMEOUT ?= 8m

.PHONY: all build run test test-go test-race lint portable bench demo mod clean help plugins redis node-deps test-node

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

mod: ## download the Go modules
	$(GO) mod download

# CGO_ENABLED=0: the static binary the release and the container image ship,
# so that the load harness measures what users run (no libc mapped: ~1.5 MB
# less resident memory, docs/benchmarks.md). bin/tollgate and the process
# plugins share these settings (HOST_GO, without the release's -trimpath),
# and go vet runs with -race like the tests, so that a fresh machine compiles
# the dependencies twice in all rather than four times.
HOST_GO := CGO_ENABLED=0 $(GO)

build: mod ## build bin/tollgate
	$(HOST_GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/host

run: build ## start the gateway on its embedded default config
	./$(BIN) serve

test: lint test-go test-node ## run every test (what CI runs)

# GATEWAY_BIN: the end-to-end tests run bin/tollgate, the binary users get,
# rather than each building cmd/host again (internal/testbin).
# -vet=off: lint has run go vet with all its checks, a superset of the few
# go test runs; go test's own pass computes its facts for every dependency
# again: 23-90 s more on a machine with an empty Go build cache.
test-go: mod plugins redis build
	REDISTEST_REQUIRE=1 GATEWAY_BIN=$(CURDIR)/$(BIN) $(GO) test -race -vet=off -timeout $(TEST_TIMEOUT) ./...

# Redis: the tests of shared state start their own redis-server on a free
# loopback port (internal/redistest); under make a missing one is an error,
# elsewhere those tests are skipped.
redis: ## install redis-server (Debian's package) if missing
	@command -v redis-server >/dev/null || { echo "installing redis-server"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# Plugins: WebAssembly ones built with the Go toolchain (wasip1, c-shared) and
# with wat2wasm from Debian's wabt, process plugins with go build. The outputs
# are not committed (.gitignore); tests that need them say to run this target.
WAT2WASM   ?= wat2wasm
WASM_BUILD := GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared
WAT_SRC    := $(wildcard plugins/wasm/testdata/*.wat plugins/wasm/testdata/bad/*.wat)
WASM_EXAMPLES    := vendor-tracker pii-redact model-router
PROCESS_EXAMPLES := audit-log

plugins: mod ## build the example and test plugins (needs wabt: installed if missing)
	@command -v $(WAT2WASM) >/dev/null || { echo "installing wabt for wat2wasm"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wabt >/dev/null; }
	@for f in $(WAT_SRC); do $(WAT2WASM) -o $${f%.wat}.wasm $$f || exit 1; done
	$(WASM_BUILD) -o plugins/wasm/testdata/conformance-go.wasm ./plugins/wasm/testdata/conformance-go
	$(HOST_GO) build -o plugins/process/testdata/conformance-proc ./plugins/wasm/testdata/conformance-go
	@for p in $(WASM_EXAMPLES); do echo "$(WASM_BUILD) -o examples/plugins/$$p/$$p.wasm ./examples/plugins/$$p"; \
	  $(WASM_BUILD) -o examples/plugins/$$p/$$p.wasm ./examples/plugins/$$p || exit 1; done
	@for p in $(PROCESS_EXAMPLES); do echo "$(HOST_GO) build -o examples/plugins/$$p/$$p ./examples/plugins/$$p"; \
	  $(HOST_GO) build -o examples/plugins/$$p/$$p ./examples/plugins/$$p || exit 1; done

# Node tests: the npm packages openai and @anthropic-ai/sdk as clients of the
# binary. npm ci installs the locked versions when the lock file changes.
NODE_TEST := test/node

$(NODE_TEST)/node_modules/.package-lock.json: $(NODE_TEST)/package-lock.json $(NODE_TEST)/package.json
	cd $(NODE_TEST) && npm ci --no-audit --no-fund
	@touch $@

node-deps: $(NODE_TEST)/node_modules/.package-lock.json ## install the npm clients of the Node tests

test-node: build node-deps ## the npm SDKs (openai, @anthropic-ai/sdk) against bin/tollgate
	cd $(NODE_TEST) && GATEWAY_BIN=$(CURDIR)/$(BIN) node --test

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet -race ./...

# The library is embedded on developers' laptops: every package, the Linux
# load harness included, must build and vet on macOS and Windows too
# (.ci/run; not part of make test, which stays under its time budget).
portable: mod ## go vet for macOS and Windows
	GOOS=darwin $(HOST_GO) vet ./...
	GOOS=windows $(HOST_GO) vet ./...

bench: redis ## run the in-process benchmarks
	$(GO) test -run '^$$' -p 1 -bench . -benchmem -count 1 ./...

# Load harness (docs/benchmarks.md): the lean upstream, the gateway with each
# config (LOADTEST_CONFIGS='name=path,...', default: see loadtest/cmd/loadtest/run.go)
# and a bare httputil.ReverseProxy, all loaded by
# wrk and a Go stream client on loopback; bounded in time and count. Writes
# loadtest/results/<date>.json, then the tables and plots in the doc.
# LOADTEST_FLAGS=--quick tries it in a few minutes (result in bin/, not the doc).
.PHONY: loadtest bench-check
LOADTEST_CONFIGS ?=
LOADTEST_FLAGS   ?=
# Benchmarks run one package at a time (-p 1): go test runs packages'
# binaries in parallel by default, and two benchmarks sharing the two cores
# read 10-20% slower than one alone (docs/benchmarks.md, Resilience).
BENCH_PKGS       ?= ./...
BENCH_COUNT      ?= 5
BENCH_TOLERANCE  ?= 0.25
LOADTEST_BENCH_COUNT ?= 3

loadtest: build ## measure the gateway against direct calls and a bare reverse proxy (needs wrk: installed if missing)
	@command -v wrk >/dev/null || { echo "installing wrk"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	@# the wasm row loads plugins/wasm/testdata/minimal.wasm, which `make plugins` builds
	@if grep -q '^plugins:' $(firstword $(MAKEFILE_LIST)); then $(MAKE) --no-print-directory plugins || \
	  echo "loadtest: the plugins did not build; the wasm row will say why it was not measured"; fi
	$(GO) build -o bin/loadtest ./loadtest/cmd/loadtest
	$(GO) build -o bin/loadtest-upstream ./loadtest/cmd/upstream
	$(GO) build -o bin/loadtest-bareproxy ./loadtest/cmd/bareproxy
	$(GO) build -o bin/loadtest-relay ./loadtest/cmd/relay
	$(GO) build -o bin/loadtest-gatewayprof ./loadtest/cmd/gatewayprof
	./bin/loadtest run --bin bin $(if $(LOADTEST_CONFIGS),--configs '$(LOADTEST_CONFIGS)') $(LOADTEST_FLAGS)
	@if [[ "$(LOADTEST_FLAGS)" != *--quick* ]]; then \
	  echo "$(GO) test -run '^\$$' -p 1 -bench . -benchmem -count $(LOADTEST_BENCH_COUNT) $(BENCH_PKGS) > loadtest/results/gobench.txt"; \
	  $(GO) test -run '^$$' -p 1 -bench . -benchmem -count $(LOADTEST_BENCH_COUNT) $(BENCH_PKGS) > loadtest/results/gobench.txt 2>&1 || \
	    echo "loadtest: some packages' benchmarks failed; see loadtest/results/gobench.txt"; \
	  ./bin/loadtest report --bench loadtest/results/gobench.txt --bench-cmd "go test -run '^\$$' -p 1 -bench . -benchmem -count $(LOADTEST_BENCH_COUNT) $(BENCH_PKGS)"; \
	fi

bench-check: ## compare the in-process benchmarks with docs/bench-baseline.txt (BENCH_UPDATE=1 rewrites it)
	$(GO) build -o bin/loadtest ./loadtest/cmd/loadtest
	@mkdir -p bin
	$(GO) test -run '^$$' -p 1 -bench . -benchmem -count $(BENCH_COUNT) $(BENCH_PKGS) > bin/bench-now.txt 2>&1 || \
	  echo "bench-check: some packages' benchmarks failed; see bin/bench-now.txt"
	./bin/loadtest bench-check --baseline docs/bench-baseline.txt --current bin/bench-now.txt \
	  --tolerance $(BENCH_TOLERANCE) $(if $(BENCH_UPDATE),--update)

demo: build ## mock provider + gateway + a few requests, printing the usage events
	./scripts/demo.sh

clean: ## remove build output and local state
	rm -rf bin dist data

# --- fuzzing and releases ---------------------------------------------------
# `make test` runs every fuzz target on its seed corpus (testdata/fuzz/…) as
# an ordinary test; `make fuzz` mutates for FUZZTIME per target.
FUZZTIME ?= 30s
FUZZ_TARGETS := ./providers/openai:FuzzFormat ./providers/anthropic:FuzzFormat \
                ./providers/gemini:FuzzFormat ./providers/sse:FuzzDecoder ./config:FuzzLoad
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

.PHONY: fuzz release

fuzz: mod ## fuzz the parsers, the SSE decoder and the config loader (FUZZTIME each, default 30s)
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; done

release: mod ## cross-build dist/tollgate-VERSION-OS-ARCH.tar.gz for linux and darwin, amd64 and arm64, with SHA256SUMS
	@set -e; rm -rf dist; mkdir -p dist; \
	for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
	  name=tollgate-$(VERSION)-$$os-$$arch; mkdir -p dist/$$name; \
	  echo "build $$name"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/$$name/tollgate ./cmd/host; \
	  cp README.md dist/$$name/ 2>/dev/null || true; \
	  tar -C dist -czf dist/$$name.tar.gz $$name; rm -rf dist/$$name; \
	done; \
	cd dist && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS
