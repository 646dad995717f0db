# raftmq build, test and tooling. GNU make, bash.
#
#   make build   static binaries of every cmd/*/ main package into bin/
#   make run     build, then start the broker daemon on ./data
#   make test    what a clean clone needs, then vet, gofmt and race tests
#   make fuzz    every Fuzz target for FUZZTIME each
#   make bench   store benchmarks into bench.out
#   make lint    go vet and staticcheck
#   make proto   regenerate api/raftmqpb/*.pb.go from api/proto (needs protoc)
#   make proto-check  regenerate into a temp dir and diff with the committed code
#   make clean   remove build outputs (bin/, bench.out); ./data is kept
#   make image   static binaries, then the raftmq:dev Docker image
#   make cluster the image, then a three-node cluster (docker-compose up -d)
#   make cluster-down  stop the cluster and delete its volumes
#
# The generated Go code in api/raftmqpb is committed, so `make test` and a
# plain `go build` never need protoc. Only `make proto` and `make proto-check`
# do: protoc from Debian's protobuf-compiler package, plus the two Go plugins
# pinned below, which they install into $(TOOLS) with GOBIN.

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
FUZZTIME    ?= 100000x
BENCHTIME   ?= 2s
BENCHPKGS   ?= ./store/...
RAFTMQ_FLAGS ?= --data-dir $(DATA)
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(TOOLS)/staticcheck
MODULE      := github.com/raftmq/raftmq
PROTOC      ?= protoc
PROTOC_VERSION ?= 3.21.12
PROTOC_GEN_GO_VERSION      ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.2
PROTO_DIR   ?= api/proto
PB_DIR      ?= api/raftmqpb
IMAGE       ?= raftmq:dev
COMPOSE     ?= docker-compose
PROTO_FILES  = $(shell find $(PROTO_DIR) -name '*.proto' | LC_ALL=C sort)

.PHONY: build run test check-go deps vet fmt-check fuzz bench lint tools clean \
	proto proto-check proto-tools check-protoc image cluster cluster-down

build:
	@mkdir -p $(BIN)
	@for d in cmd/*/; do \
	  name=$$(basename "$$d"); \
	  grep -qs '^package main' "$$d"*.go || continue; \
	  echo "go build -o $(BIN)/$$name ./$$d"; \
	  CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o "$(BIN)/$$name" "./$$d"; \
	done

# run starts a single-node group in the foreground on 127.0.0.1:9876 (gRPC)
# and :9877 (Raft), data in $(DATA), topics created on first use; Ctrl-C
# stops it gracefully. Extra flags: make run RAFTMQ_FLAGS='--data-dir d ...'.
run: build
	mkdir -p $(DATA)
	$(BIN)/raftmq $(RAFTMQ_FLAGS) --auto-create-topics

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

# proto-tools installs the pinned protoc plugins into $(TOOLS).
proto-tools:
	@mkdir -p $(TOOLS)
	GOBIN=$(abspath $(TOOLS)) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(abspath $(TOOLS)) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

# check-protoc fails when protoc is missing, and warns when its version is not
# the one the committed code was generated with (the version is written into
# every generated file's header, so proto-check would report it).
check-protoc:
	@command -v $(PROTOC) >/dev/null || { \
	  echo "make: '$(PROTOC)' not found; install it with 'apt-get install protobuf-compiler'" >&2; exit 1; }
	@v=$$($(PROTOC) --version | awk '{print $$2}'); \
	if [ "$$v" != "$(PROTOC_VERSION)" ]; then \
	  echo "make: warning: protoc is $$v, the committed code was generated with $(PROTOC_VERSION)" >&2; \
	fi

# protoc_gen OUT: generate the Go messages and gRPC stubs under OUT. The
# module= option strips the module path from go_package, so OUT=. writes
# straight into $(PB_DIR).
protoc_gen = $(PROTOC) -I $(PROTO_DIR) \
	--plugin=protoc-gen-go=$(TOOLS)/protoc-gen-go \
	--plugin=protoc-gen-go-grpc=$(TOOLS)/protoc-gen-go-grpc \
	--go_out=$(1) --go_opt=module=$(MODULE) \
	--go-grpc_out=$(1) --go-grpc_opt=module=$(MODULE) \
	$(PROTO_FILES)

proto: check-protoc proto-tools
	@mkdir -p $(PB_DIR)
	rm -f $(PB_DIR)/*.pb.go
	$(call protoc_gen,.)

# proto-check regenerates into a temporary directory and fails if the result
# differs from the committed files. `make test` does not run it.
proto-check: check-protoc proto-tools
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(call protoc_gen,$$tmp); \
	if diff -ru $(PB_DIR) "$$tmp/$(PB_DIR)"; then echo "proto-check: $(PB_DIR) is up to date"; \
	else echo "proto-check: $(PB_DIR) is stale; run 'make proto'" >&2; exit 1; fi

# image stages a minimal build context (the two static binaries and an
# empty data/ directory that becomes the /data volume) in $(BIN)/image and
# builds the FROM-scratch Dockerfile on it.
image: build
	rm -rf $(BIN)/image
	mkdir -p $(BIN)/image/data
	cp $(BIN)/raftmq $(BIN)/mqctl $(BIN)/image/
	docker build -f Dockerfile -t $(IMAGE) $(BIN)/image

# cluster starts the three-node group of docker-compose.yml (clients on
# 127.0.0.1:19876-19878); cluster-down removes it with its volumes.
cluster: image
	$(COMPOSE) up -d

cluster-down:
	$(COMPOSE) down -v

clean:
	rm -rf $(BIN) bench.out
	find . -not -path './.git/*' \( -name '*.test' -o -name '*.prof' \) -type f -print -delete
