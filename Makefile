# ayaflow — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/ayaflow
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Debian packages the build, the tests and the captures need.
APT_PACKAGES := clang llvm libbpf-dev iproute2 ethtool tcpdump tshark dnsutils curl openssl kcat zstd util-linux systemd tmux

.PHONY: help deps build run generate check-generate test test-short fuzz bench lint clean

help: ## show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

deps: ## install the Debian packages and Go modules the build and tests need (root)
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi
	$(GO) mod download

build: ## build bin/ayaflow (no clang needed: the eBPF object is committed)
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/ayaflow

run: build ## run `ayaflow ship` on the default-route interface, events to stdout (root)
	./$(BIN) ship --sink stdout

generate: ## rebuild the eBPF object and its Go bindings with bpf2go (needs clang)
	$(GO) generate ./bpf/...

check-generate: generate ## fail if the committed bpf2go output differs from a fresh build
	@git diff --exit-code --stat -- bpf/ || { echo "bpf2go output is stale: run 'make generate' and commit"; exit 1; }

test: build ## run every test, privileged ones included (root); fails if any privileged test skipped
	AYAFLOW_REQUIRE_PRIVILEGED=1 AYAFLOW_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m ./...

test-short: ## quick unprivileged loop
	$(GO) test -short ./...

FUZZTIME ?= 20s
fuzz: ## run every fuzz target for FUZZTIME each (root for the kernel differential)
	@set -eo pipefail; for pkg in $$($(GO) list ./...); do \
		for fn in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== fuzz $$pkg $$fn"; \
			out=$$(mktemp); \
			if ! $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg 2>&1 | tee $$out; then \
				if grep -q 'context deadline exceeded' $$out && ! grep -q 'Failing input written' $$out; then \
					echo "== fuzz $$fn: the fuzzing engine overran its deadline without a failing input; running it again"; \
					$(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg; \
				else rm -f $$out; exit 1; fi; \
			fi; \
			rm -f $$out; \
		done; \
	done

bench: ## run the benchmark suite (root): one table, bench/results.json
	$(MAKE) --no-print-directory build && set -o pipefail && $(GO) run ./bench/cmd/ayabench -ayaflow $(BIN) -out bench/results.json | tee bench/latest.txt

lint: ## go vet
	$(GO) vet ./...

clean: ## remove build outputs
	rm -rf bin
