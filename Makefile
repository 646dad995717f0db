# raftmq build, test and tooling. GNU make, bash.
#
#   make build   static binaries of every cmd/*/ main package into bin/
#   make run     build, then start the broker daemon on ./data
#   make test    what a clean clone needs, then vet, gofmt and race tests
#   make fuzz    every Fuzz target for FUZZTIME each
#   make bench   store benchmarks into bench.out
#   make lint    go vet and staticcheck
#   make clean   remove build outputs (bin/, bench.out); ./data is kept
#
# There is no `proto` target yet: there are no .proto files. It arrives
# with the gRPC API (api/), together with its pinned protoc plugins.

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS   += --no-print-directory

GO          ?= go
GOFMT       ?= gofmt
GO_MIN      ?= 1.26
BIN         ?= bin
TOOLS       ?= $(BIN)/tools
DATA        ?= data
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     ?= -s -w -X main.version=$(VERSION)
TESTTIMEOUT ?= 15m
FUZZTIME    ?= 10s
BENCHTIME   ?= 2s
BENCHPKGS   ?= ./store/...
RAFTMQ_FLAGS ?= --data-dir $(DATA)
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(TOOLS)/staticcheck

.PHONY: build run test check-go deps vet fmt-check fuzz bench lint tools clean

build:
	@mkdir -p $(BIN)
	@for d in cmd/*/; do \
	  name=$$(basename "$$d"); \
	  grep -qs '^package main' "$$d"*.go || continue; \
	  echo "go build -o $(BIN)/$$name ./$$d"; \
	  CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o "$(BIN)/$$name" "./$$d"; \
	done

run: build
	@if [ ! -d cmd/raftmq ]; then \
	  echo "make run: the broker daemon (cmd/raftmq) does not exist yet;" >&2; \
	  echo "make run: it arrives with the replicated broker (issue 3)." >&2; \
	  echo "make run: today 'make test' works, and 'bin/mqctl store verify --dir DIR' checks a store." >&2; \
	  exit 1; \
	fi
	mkdir -p $(DATA)
	$(BIN)/raftmq $(RAFTMQ_FLAGS)

test: check-go deps vet fmt-check
	$(GO) test -race -count=1 -timeout $(TESTTIMEOUT) ./...

# check-go runs outside the module so that an old go reports its own
# version instead of trying to switch toolchains.
check-go:
	@command -v $(GO) >/dev/null || { echo "make: '$(GO)' not found; install Go >= $(GO_MIN)" >&2; exit 1; }
	@v=$$(cd / && GOTOOLCHAIN=local $(GO) env GOVERSION); v=$${v#go}; \
	if [ "$$(printf '%s\n%s\n' "$(GO_MIN)" "$$v" | sort -V | head -n1)" != "$(GO_MIN)" ]; then \
	  echo "make: raftmq needs Go >= $(GO_MIN); '$(GO)' is go$$v" >&2; exit 1; \
	fi; \
	echo "go$$v (>= $(GO_MIN))"

deps:
	$(GO) mod download

vet:
	$(GO) vet ./...

# fmt-check lists every file gofmt would change and fails if there is one.
fmt-check:
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path './$(BIN)/*' -not -path '*/testdata/*' -print); \
	bad=$$([ -z "$$files" ] || $(GOFMT) -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt needed on:" >&2; echo "$$bad" >&2; exit 1; fi; \
	echo "gofmt: ok"

# fuzz finds every `func FuzzX` in *_test.go files and runs each alone (go
# test -fuzz takes one target per run). It runs all of them and fails at the
# end if any failed; a failing input lands in that package's testdata/fuzz/
# and must be committed with its fix.
fuzz:
	@targets=$$(grep -rHo --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata \
	  --exclude-dir=$(BIN) --exclude-dir=$(DATA) '^func Fuzz[A-Za-z0-9_]*' . | sed 's/:func /:/' | sort); \
	if [ -z "$$targets" ]; then echo "fuzz: no Fuzz targets found"; exit 0; fi; \
	failed=(); \
	for t in $$targets; do \
	  pkg=$$(dirname "$${t%%:*}"); fn=$${t##*:}; \
	  echo "== fuzz $$fn in $$pkg for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "$$pkg" </dev/null || failed+=("$$pkg $$fn"); \
	done; \
	if [ $${#failed[@]} -gt 0 ]; then printf 'fuzz FAILED: %s\n' "$${failed[@]}" >&2; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -benchtime $(BENCHTIME) $(BENCHPKGS) 2>&1 | tee bench.out

tools:
	@mkdir -p $(TOOLS)
	GOBIN=$(abspath $(TOOLS)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: tools
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf $(BIN) bench.out
	find . -not -path './.git/*' \( -name '*.test' -o -name '*.prof' \) -type f -print -delete
