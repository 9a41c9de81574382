# wasmrun. `make demo` and `make test` are the two commands a newcomer needs;
# both install what they need first (scripts/install-deps.sh).

SHELL := /bin/bash
GO ?= go
# No cgo: the container process changes the privileges of every thread it
# has (syscall.AllThreadsSyscall), which a cgo binary cannot.
export CGO_ENABLED := 0
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/wasmrun/wasmrun/internal/version.Version=$(VERSION)
BIN := bin
# Fuzzing budget per target as an execution count, not a duration: a
# duration-based -fuzztime can fail with "context deadline exceeded" when the
# deadline races an in-flight worker (golang/go#75804, unfixed in go1.26).
FUZZTIME ?= 50000x
# Test timeout for the whole suite; CI allows 90 minutes, we aim far below.
TEST_TIMEOUT ?= 25m

.PHONY: all build deps test-deps test unit fuzz demo bench clean runtimes

all: build

deps:
	./scripts/install-deps.sh

# containerd 1.6 (apt) and 2.4.2 (go install, ~85 s once) for the shim
# tests; Wine and MinGW for the Windows tests.
test-deps:
	./scripts/install-containerd.sh
	./scripts/install-deps.sh wine64 gcc-mingw-w64-x86-64

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/wasmrun ./cmd/wasmrun
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/containerd-shim-wasmrun-v1 ./cmd/containerd-shim-wasmrun-v1
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/wasmrun-shim ./cmd/wasmrun-shim
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/wasmrun-init ./cmd/wasmrun-init

# All tests (unit, integration with real guests built from source, brief
# fuzzing), then a summary line.
test: deps test-deps build
	@mkdir -p $(BIN); \
	  WASMRUN_REQUIRE_TOOLCHAINS=1 $(GO) test -count=1 -v -p 2 -timeout $(TEST_TIMEOUT) ./... > $(BIN)/test.log 2>&1; \
	  status=$$?; \
	  grep -E '^(--- (FAIL|SKIP)|FAIL|ok|panic:)|^\s+\S+\.go:[0-9]+:' $(BIN)/test.log; \
	  $(MAKE) --no-print-directory fuzz || status=1; \
	  ./scripts/test-summary.sh < $(BIN)/test.log || status=1; \
	  exit $$status

# Each fuzz target runs briefly (go test -fuzz takes one target at a time).
FUZZPKGS := ./wasi/ ./wasi/internal/sys/ ./cni/
fuzz:
	@for p in $(FUZZPKGS); do \
	  for t in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
	    echo "fuzz $$p $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
	  done; \
	done

demo: deps build
	./scripts/demo.sh

# Benchmarks: ratios measured in one run against native/libcni/runc
# baselines, written to bench/README.md (start-up), bench/sockets.md,
# bench/wasigo.md (guests under wasi-go), bench/isolation.md,
# bench/instances.md, bench/languages.md and bench/shim.md. Never asserted.
bench: deps build
	./bench/run.sh
	./bench/sockets.sh
	./bench/wasigo.sh
	./bench/isolation.sh
	./bench/instances.sh
	./bench/languages.sh
	./bench/shim.sh

# Language runtimes (WASI interpreters) into bin/runtimes; cached. Each is
# then compiled into the default compiled-module cache (wasmrun compile), so
# the first `wasmrun os --language ...` start is a warm one.
runtimes: build
	./scripts/build-runtimes.sh --precompile $(BIN)/wasmrun

clean:
	rm -rf $(BIN)
