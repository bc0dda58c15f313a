# Keyward: build, test and run locally. See /work/shared/API.md for the contract.
#
#   make test    prerequisites, cfn-lint and the SAM translation, then go test ./...
#                against DynamoDB Local + moto
#   make local   the whole API on 127.0.0.1:$(PORT) through the real bootstraps
#   make sweep   run SweeperFunction once against the running local stack
#   make lint    gofmt, go vet, cfn-lint, the SAM translation
#   make bench   benchmarks under the local services
#   make cli     the keyward command-line client, into .local/bin/keyward
#   make fuzz    every fuzz target for FUZZTIME (default 60s) each, one after another
#   make deploy  sam build && sam deploy

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO        ?= go
# samconfig.toml section for make deploy: default or prod.
DEPLOY_ENV ?= default
PORT      ?= 3000
SERVICES  := infra/services.sh
DDB_MARK  := infra/node_modules/.package-lock.json
LOCAL_BIN := .local/bin

# Flags shared by every bootstrap build, for Lambda and for the host.
GO_BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
# How sam build (BuildMethod: makefile) builds one function: LogicalId -> folder.
# make local overrides LAMBDA_GOOS/LAMBDA_GOARCH to build the same recipe for the host.
LAMBDA_GOOS   ?= linux
LAMBDA_GOARCH ?= arm64
LAMBDA_BUILD = GOOS=$(LAMBDA_GOOS) GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0 $(GO) build $(GO_BUILD_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap

.PHONY: test local sweep lint bench fuzz deploy deps prereqs prereqs-go prereqs-services prereqs-cfn clean \
	build-KeysFunction build-AuthorizerFunction build-TokenFunction build-SweeperFunction \
	build-SigningKeyRotationFunction

## --- prerequisites: one clear line each ------------------------------------------------

prereqs-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "keyward: Go 1.26+ is required: https://go.dev/dl/" >&2; exit 1; }

prereqs-services:
	@command -v java >/dev/null 2>&1 || { echo "keyward: Java 17+ is required for DynamoDB Local: apt-get install openjdk-17-jre-headless" >&2; exit 1; }
	@command -v npm >/dev/null 2>&1 || { echo "keyward: Node.js 20+ and npm are required to install DynamoDB Local: apt-get install nodejs npm" >&2; exit 1; }
	@command -v moto_server >/dev/null 2>&1 || { echo "keyward: moto_server is required for the local Secrets Manager: pip install 'moto[server]'" >&2; exit 1; }
	@command -v python3 >/dev/null 2>&1 || { echo "keyward: python3 is required: apt-get install python3" >&2; exit 1; }

prereqs-cfn:
	@command -v cfn-lint >/dev/null 2>&1 || { echo "keyward: cfn-lint is required: pip install cfn-lint" >&2; exit 1; }
	@python3 -c 'import samtranslator' >/dev/null 2>&1 || { echo "keyward: aws-sam-translator is required for python3: pip install aws-sam-translator" >&2; exit 1; }

prereqs: prereqs-go prereqs-services prereqs-cfn

## npm ci only when infra/node_modules is missing or older than the lockfile.
deps: prereqs-services $(DDB_MARK)

$(DDB_MARK): infra/package.json infra/package-lock.json
	cd infra && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

## --- test, lint, bench -----------------------------------------------------------------

# SAM_TRANSLATE translates template.yaml as sam deploy would (offline); it fails on
# anything the SAM translator rejects. infra/stack's tests check the roles it generates.
SAM_TRANSLATE := python3 infra/sam-translate.py template.yaml >/dev/null

test: prereqs deps
	cfn-lint template.yaml
	$(SAM_TRANSLATE)
	$(SERVICES) $(GO) test -count=1 -p 2 -timeout 30m ./...

lint: prereqs-go prereqs-cfn
	@out="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
		if [ -n "$$out" ]; then echo "keyward: gofmt needed:" >&2; echo "$$out" >&2; exit 1; fi
	$(GO) vet ./...
	cfn-lint template.yaml
	$(SAM_TRANSLATE)

# Each bench writes its `figure ...` lines to .local/bench/<name>.txt; they are printed last.
bench: prereqs-go deps
	@rm -rf .local/bench && mkdir -p .local/bench
	$(SERVICES) $(GO) test -count=1 -run '^$$' -bench . ./... | grep -v '^figure '
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
	pkg/authorizer:FuzzParseEvent \
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

local: prereqs-go deps $(LOCAL_BIN)/keyward-local
	PORT=$(PORT) $(SERVICES) $(LOCAL_BIN)/keyward-local serve

sweep: prereqs-go deps $(LOCAL_BIN)/keyward-local
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

deploy:
	@command -v sam >/dev/null 2>&1 || { echo "keyward: the AWS SAM CLI is required to deploy: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html" >&2; exit 1; }
	sam build
	sam deploy --config-env $(DEPLOY_ENV)

clean:
	rm -rf .local .aws-sam
