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
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X github.com/tollgate-dev/tollgate.Version=$(VERSION) \
           -X main.commit=$(COMMIT) -X main.date=$(DATE)
# Test timeout per package; `make test` stays well under 10 minutes on 2 cores.
TEST_TIMEOUT ?= 8m

.PHONY: all build run test test-go test-race lint bench demo mod clean help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

mod: ## download the Go modules
	$(GO) mod download

build: mod ## build bin/tollgate
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/host

run: build ## start the gateway on its embedded default config
	./$(BIN) serve

test: lint test-go ## run every test (what CI runs)

test-go: mod
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: ## run the in-process benchmarks
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

demo: build ## mock provider + gateway + a few requests, printing the usage events
	./scripts/demo.sh

clean: ## remove build output and local state
	rm -rf bin dist data
