# The one entry point for building and checking the repository.
#
#   make test              every check CI runs (.ci/run is exactly this)
#   make sim               run the simulator (tools/cmd/faultsim); flags: ARGS="-html report.html"
#   make report            the simulator's report: report.html and report.json at the root
#   make examples          run every Example function of every module
#   make test-mod M=fault/retry     one module alone: tidy, vet, race tests
#   make lint              golangci-lint on every module (lint-mod M=... for one)
#   make bench M=fault/retry [BENCH=. COUNT=6]
#   make help              all targets
#
# Needs Go 1.25 or newer (every go.mod says go 1.25.0), git and GNU make. The
# pinned tools (golangci-lint, actionlint) are built from tools/go.mod into
# ./bin on first use. tools/ is not in go.work, so everything run there uses
# GOWORK=off.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.NOTPARALLEL:
.SUFFIXES:
MAKEFLAGS += --no-print-directory

GO ?= go
# The library modules, read from the version manifest: the one list.
MODULES := $(shell awk '/^  [a-z0-9]/ { sub(/:$$/, "", $$1); print $$1 }' versions.yaml)
ifeq ($(strip $(MODULES)),)
$(error no modules read from versions.yaml)
endif

# Modules that hold only tests (never released, so not in versions.yaml),
# tested like the others; tools/cmd/modcheck/rules.go marks them TestOnly.
TEST_ONLY_MODULES := fault/admin/browsertest

BIN := $(CURDIR)/bin
GOLANGCI_LINT := $(BIN)/golangci-lint
ACTIONLINT := $(BIN)/actionlint
# Steps that passed in this `make test`, for the closing summary line.
STEPS := $(BIN)/.steps

BENCH ?= .
COUNT ?= 6
TEST_FLAGS ?= -race -shuffle=on -timeout=10m

# $(call step,DIR,WHAT,COMMAND): run COMMAND in DIR; name the step and stop
# the build when it fails.
define step
	@echo "--- $(2) [$(1)]"
	@cd $(1) && { $(3); } || { \
		echo "FAIL: $(2) [$(1)]" >&2; \
		echo "checks: $$(cat $(STEPS) 2>/dev/null | wc -l) passed, 1 failed" >&2; \
		exit 1; }
	@mkdir -p $(BIN) && echo "$(2) [$(1)]" >> $(STEPS)
endef

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-14s %s\n", $$1, $$2 }'
	@echo "  modules: $(MODULES)"

# ---------------------------------------------------------------- the test

.PHONY: test
test: ## run every check: format, modcheck, README programs, each module alone (tidy, vet, race tests), workspace build and tests, tools tests, lint, actionlint
	@mkdir -p $(BIN) && : > $(STEPS)
	@$(MAKE) fmt-check
	@$(MAKE) actionlint
	@$(MAKE) modcheck
	@$(MAKE) readmecheck
	@$(MAKE) apicheck
	@for m in $(MODULES) $(TEST_ONLY_MODULES); do $(MAKE) test-mod M=$$m; done
	@$(MAKE) workspace
	@$(MAKE) tools-test
	@$(MAKE) lint
	@echo "checks: $$(wc -l < $(STEPS)) passed, 0 failed"

.PHONY: fmt-check
fmt-check: ## gofmt -s: list unformatted files and fail if there are any
	$(call step,.,gofmt -s -l,out=$$(gofmt -s -l $(MODULES) $(TEST_ONLY_MODULES) tools | sort -u); if [ -n "$$out" ]; then echo "$$out"; echo "these files need: gofmt -s -w <file>"; false; fi)

.PHONY: modcheck
modcheck: ## enforce the module rules of docs/ARCHITECTURE.md (tools/cmd/modcheck)
	$(call step,tools,modcheck,GOWORK=off $(GO) run ./cmd/modcheck)

.PHONY: readmecheck
readmecheck: ## build every complete Go program (package main) shown in a README (tools/cmd/readmecheck)
	$(call step,tools,readmecheck,GOWORK=off $(GO) run ./cmd/readmecheck)

.PHONY: apicheck
apicheck: ## each module's exported API against its listing <dir>/api.txt and its version in versions.yaml (tools/cmd/apicheck)
	$(call step,tools,apicheck,GOWORK=off $(GO) run ./cmd/apicheck)

.PHONY: api
api: ## after bumping versions.yaml: rewrite the API listings (<dir>/api.txt); BUMP=1 also makes the smallest bumps the changes need
	@cd tools && GOWORK=off $(GO) run ./cmd/apicheck $(if $(BUMP),-bump,-write)

.PHONY: test-mod
test-mod: ## one module alone (GOWORK=off, as a consumer builds it): tidy, vet, race tests. M=<dir>
	@case " $(MODULES) $(TEST_ONLY_MODULES) " in *" $(M) "*) ;; *) echo "usage: make test-mod M=<module dir> (tools: make tools-test); modules: $(MODULES)" >&2; exit 2;; esac
	$(call step,$(M),go.mod and go.sum are tidy,GOWORK=off $(GO) mod tidy -diff || { echo "run: cd $(M) && GOWORK=off go mod tidy"; false; })
	$(call step,$(M),go vet,GOWORK=off $(GO) vet ./...)
	$(call step,$(M),go test $(TEST_FLAGS),GOWORK=off $(GO) test $(TEST_FLAGS) ./...)

# The workspace (go.work) builds all library modules together at one build
# list; their tests then run against each other's checked-out code and the
# shared dependency versions, which per-module runs cannot show.
.PHONY: workspace
workspace: ## the library modules together in go.work: build and tests
	$(call step,.,go build (workspace),$(GO) build $(addprefix ./,$(addsuffix /...,$(MODULES))))
	$(call step,.,go test (workspace),$(GO) test -shuffle=on $(addprefix ./,$(addsuffix /...,$(MODULES))))

# tools/ is tidy like the library modules; it pins google.golang.org/genproto
# past the googleapis/rpc split, which failsafe-go's test fixtures (reached by
# tidy through peerbench) would otherwise make ambiguous.
.PHONY: tools-test
tools-test: ## the tools module (modcheck, release, faultsim, peerbench): tidy check, vet and race tests
	$(call step,tools,go.mod and go.sum are tidy,GOWORK=off $(GO) mod tidy -diff || { echo "run: cd tools && GOWORK=off go mod tidy"; false; })
	$(call step,tools,go vet,GOWORK=off $(GO) vet ./...)
	$(call step,tools,go test $(TEST_FLAGS),GOWORK=off $(GO) test $(TEST_FLAGS) ./...)

# ---------------------------------------------------------------- lint

$(GOLANGCI_LINT): tools/go.mod tools/go.sum
	@echo "--- building golangci-lint (pinned in tools/go.mod)"
	@cd tools && GOWORK=off $(GO) build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

$(ACTIONLINT): tools/go.mod tools/go.sum
	@echo "--- building actionlint (pinned in tools/go.mod)"
	@cd tools && GOWORK=off $(GO) build -o $@ github.com/rhysd/actionlint/cmd/actionlint

# One golangci-lint run over all library modules in the workspace: each
# shared package (fault, functional, ...) is loaded and analysed once, which
# is several times faster than a run per module; the findings are the same.
.PHONY: lint
lint: $(GOLANGCI_LINT) ## golangci-lint (.golangci.yml) on every library module (one workspace run) and on tools
	$(call step,.,golangci-lint (workspace),$(GOLANGCI_LINT) run --config $(CURDIR)/.golangci.yml --allow-parallel-runners $(addprefix ./,$(addsuffix /...,$(MODULES))))
	@$(MAKE) lint-mod M=tools

.PHONY: lint-mod
lint-mod: $(GOLANGCI_LINT) ## golangci-lint on one module alone (GOWORK=off). M=<dir>
	@[ -n "$(M)" ] || { echo "usage: make lint-mod M=<module dir>" >&2; exit 2; }
	$(call step,$(M),golangci-lint,GOWORK=off $(GOLANGCI_LINT) run --config $(CURDIR)/.golangci.yml --allow-parallel-runners ./...)

.PHONY: actionlint
actionlint: $(ACTIONLINT) ## check the GitHub workflows (with shellcheck when it is installed)
	$(call step,.,actionlint,$(ACTIONLINT))

.PHONY: fmt
fmt: ## gofmt -s -w every Go file
	gofmt -s -w $(MODULES) tools

# ---------------------------------------------------------------- run

# The simulator is built into bin/ and run from the repository root, so
# that the paths in ARGS (-html, -json, -scenario) are relative to the root.
FAULTSIM := $(BIN)/faultsim
ARGS ?=

.PHONY: sim
sim: ## run the simulator (tools/cmd/faultsim); pass flags with ARGS="-html report.html" (ARGS=-help lists them)
	@$(MAKE) faultsim-build
	@$(FAULTSIM) $(ARGS)

.PHONY: report
report: ## run the simulator and write report.html and report.json at the repository root
	@$(MAKE) faultsim-build
	@status=0; $(FAULTSIM) -html $(CURDIR)/report.html -json $(CURDIR)/report.json $(ARGS) || status=$$?; \
		echo "report: $(CURDIR)/report.html (open it in a browser) and $(CURDIR)/report.json"; exit $$status

.PHONY: faultsim-build
faultsim-build:
	@[ -x $(FAULTSIM) ] || echo "--- building the simulator (tools/cmd/faultsim; the first build compiles for about 30 s)..." >&2
	@mkdir -p $(BIN) && cd tools && GOWORK=off $(GO) build -o $(FAULTSIM) ./cmd/faultsim

.PHONY: examples
examples: ## run every Example function of every module (workspace) and of tools
	$(GO) test -count=1 -run '^Example' $(addprefix ./,$(addsuffix /...,$(MODULES)))
	cd tools && GOWORK=off $(GO) test -count=1 -run '^Example' ./...

.PHONY: bench
bench: ## benchmarks of one module: make bench M=<dir> [BENCH=regexp] [COUNT=6]; compare runs with benchstat
	@[ -n "$(M)" ] || { echo "usage: make bench M=<module dir> [BENCH=regexp] [COUNT=n]" >&2; exit 2; }
	cd $(M) && GOWORK=off $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) ./...

.PHONY: release
release: ## print the release tags to create (dry run; see tools/cmd/release for -create)
	@cd tools && GOWORK=off $(GO) run ./cmd/release

# After changes, one command prepares the versions: the smallest bumps the
# API changes need (apicheck -bump, which also rewrites the listings), the
# in-repo requirements set to those versions (release -sync), and a changelog
# section per new version from its [Unreleased] notes (release -changelog).
.PHONY: bump
bump: ## raise versions.yaml as the API changes require, rewrite api.txt listings, sync in-repo requirements, open changelog sections
	@cd tools && GOWORK=off $(GO) run ./cmd/apicheck -bump
	@cd tools && GOWORK=off $(GO) run ./cmd/release -sync
	@cd tools && GOWORK=off $(GO) run ./cmd/release -changelog
	@for m in $(TEST_ONLY_MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy); done
	@echo "bump: review the diff (versions.yaml, */api.txt, go.mod requirements, CHANGELOG.md), then commit and run: make release"

.PHONY: release-sync
release-sync: ## set every in-repo requirement (go.mod) to the version versions.yaml gives
	@cd tools && GOWORK=off $(GO) run ./cmd/release -sync

.PHONY: proxy
proxy: ## write a file-system module proxy of the modules (GOPROXY=file://...): make proxy DIR=/tmp/proxy
	@[ -n "$(DIR)" ] || { echo "usage: make proxy DIR=<directory>" >&2; exit 2; }
	@cd tools && GOWORK=off $(GO) run ./cmd/release -proxy $(abspath $(DIR))

.PHONY: tidy
tidy: ## go mod tidy in one module (tools included): make tidy M=<dir>
	@[ -n "$(M)" ] || { echo "usage: make tidy M=<module dir>" >&2; exit 2; }
	cd $(M) && GOWORK=off $(GO) mod tidy

.PHONY: clean
clean: ## remove the built tools
	rm -rf $(BIN)
