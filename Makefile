# Cocoon — build, test and benchmark entry points. `make help` lists them.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
NODE_DIRS := contracts tests/conformance tests/sandboxbench tests/openai

.PHONY: help demo devnet build test lint bench gas fuzz fuzz-api contracts contracts-check conformance openai node-deps clean soak browser-deps

help:
	@echo "make demo             build, then run the whole flow on an embedded devnet (the main job)"
	@echo "make devnet           build, then run a local devnet (toncenter v2 API on 127.0.0.1:8081)"
	@echo "make build            bin/cocoon (+ bin/libemulator.so beside it)"
	@echo "make test             everything CI runs: contracts-check, vet, go test -race, conformance"
	@echo "make openai           the openai npm package against cocoon up (part of make test)"
	@echo "make lint             gofmt and staticcheck"
	@echo "make bench            devnet vs @ton/sandbox, worker throughput/latency/overhead, gateway overhead -> docs/PERFORMANCE.md"
	@echo "make gas              gas and fees per contract operation -> docs/gas.json, docs/PERFORMANCE.md"
	@echo "make fuzz             long random-operations property run: make fuzz SEED=... STEPS=..."
	@echo "make fuzz-api         fuzz the devnet API (runGetMethod, sendBoc, estimateFee) through the real emulator: make fuzz-api FUZZTIME=5m"
	@echo "make soak             jobs, then paid requests, through a devnet, workers and a gateway killed at random (bounded): make soak JOBS=2000 REQUESTS=5000 SEED=..."
	@echo "make contracts        recompile contracts/*.tolk into contracts/build/"
	@echo "make contracts-check  fail when a committed artifact differs from a fresh compile"

build:
	@mkdir -p bin
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/cocoon ./offchain/cmd/cocoon
	@# tongo ships libemulator.so inside its module; the binary loads it from bin/.
	@# The module directory is looked up in the shell, after go build has
	@# downloaded the module: make expands $$(shell …) before a recipe runs,
	@# which on an empty module cache gave an empty path.
	@install -m 0644 "$$($(GO) list -m -f '{{.Dir}}' github.com/tonkeeper/tongo)/lib/linux/libemulator.so" bin/libemulator.so
	@$(GO) run ./scripts/setrpath bin/cocoon '$$ORIGIN'
	@echo "built bin/cocoon (loads bin/libemulator.so)"

demo: build
	bin/cocoon demo

devnet: build
	bin/cocoon devnet start --data .cocoon/devnet --listen 127.0.0.1:8081

# The devnet's API fuzzed through the real emulator (issue 24): fails on a
# 5xx, an empty reply or an emulator process that died. Bounded in time.
FUZZTIME ?= 30s
fuzz-api:
	$(GO) test -run '^$$' -fuzz FuzzDevnetAPI -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./offchain/devnet/httpapi

# npm ci only when a lock file changed since the last install.
node-deps: $(foreach d,$(NODE_DIRS),$(d)/node_modules/.package-lock.json)
%/node_modules/.package-lock.json: %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

contracts: contracts/node_modules/.package-lock.json
	cd contracts && node compile.js --out build

contracts-check: contracts/node_modules/.package-lock.json
	cd contracts && node compile.js --check build

conformance: build tests/conformance/node_modules/.package-lock.json
	cd tests/conformance && node --test

# The official openai npm package against `cocoon up` (tests/openai).
openai: build tests/openai/node_modules/.package-lock.json
	cd tests/openai && node --test

# The dashboards' browser tests drive Debian's chromium: installed here when
# missing and make runs as root with apt (as on CI), otherwise a clear stop.
# COCOON_SKIP_BROWSER=1 skips those tests on a machine without it.
browser-deps:
	@if ! command -v chromium >/dev/null && [ "$$COCOON_SKIP_BROWSER" != 1 ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the dashboards' browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "make test needs chromium for the dashboards' browser tests: sudo apt-get install chromium (or COCOON_SKIP_BROWSER=1 to skip them)"; exit 1; \
	  fi; \
	fi

test: contracts-check build browser-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz-api
	$(MAKE) --no-print-directory conformance
	$(MAKE) --no-print-directory openai

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	@# The gateway speaks to workers through offchain/onlineproto, never by importing the daemon.
	@if $(GO) list -deps ./offchain/gateway | grep -qx 'github.com/cocoon-network/cocoon/offchain/worker'; then echo "offchain/gateway imports offchain/worker: use offchain/onlineproto"; exit 1; fi

bench: build tests/sandboxbench/node_modules/.package-lock.json
	$(GO) run ./scripts/devnetbench --out docs/PERFORMANCE.md
	$(GO) run ./scripts/workerbench --out docs/PERFORMANCE.md
	$(GO) run ./scripts/gatewaybench --out docs/PERFORMANCE.md

gas:
	$(GO) run ./scripts/gasreport

fuzz:
	$(GO) test -count=1 -timeout 60m -run '^TestProperty$$' -v ./tests/contracts -cocoon.seed=$${SEED:-$$(date +%s)} -cocoon.steps=$${STEPS:-3000}

# Bounded: JOBS jobs (default 2000), then every job must be closed with at
# most one receipt and paid at most once; the summary is printed and, with
# COCOON_SOAK_OUT=file, written as JSON.
soak: build
	$(GO) test -count=1 -timeout 150m -run '^(TestSoak|TestMoneySoak)$$' -v ./tests/e2e -cocoon.soak.jobs=$${JOBS:-2000} -cocoon.soak.requests=$${REQUESTS:-5000} -cocoon.soak.seed=$${SEED:-$$(date +%s)}

clean:
	rm -rf bin
