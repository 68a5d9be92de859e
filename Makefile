# One entry point for every check. CI runs `bash .ci/run`, which runs the same commands.
GO      ?= go
LINT    := $(GO) tool -modfile=internal/tools/go.mod golangci-lint
FUZZTIME ?= 10s

.PHONY: all test lint fuzz bench cover ci test-concurrent-safe soak

all: lint test

test: ## the tests of every module, with the race detector
	bash scripts/test.sh

lint: ## golangci-lint (pinned in internal/tools/go.mod), also over the benchmarks and metrics adapter modules
	$(LINT) run ./...
	cd otel && $(GO) tool -modfile=../internal/tools/go.mod golangci-lint run --config ../.golangci.yml ./...
	cd prometheus && $(GO) tool -modfile=../internal/tools/go.mod golangci-lint run --config ../.golangci.yml ./...
	cd benchmarks && $(GO) tool -modfile=../internal/tools/go.mod golangci-lint run --config ../.golangci.yml ./...

fuzz: ## every fuzz target for FUZZTIME
	$(GO) test -run '^$$' -fuzz '^FuzzEncode$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzHTTPResponse$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzAppendFloat$$' -fuzztime $(FUZZTIME) ./internal/jsonw
	$(GO) test -run '^$$' -fuzz '^FuzzAppendString$$' -fuzztime $(FUZZTIME) ./internal/jsonw

bench: ## the package benchmarks; the side-by-side comparison is benchmarks/run.sh
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

cover: ## coverage of the library (tests of every package count), with the total
	$(GO) test -count=1 -coverpkg=./,./internal/... -coverprofile=coverage.out ./...
	$(GO) tool cover -func=coverage.out | tail -1

test-concurrent-safe: ## the concurrency tests, many times, with the race detector
	$(GO) test -race -count=50 -run 'Concurrent|HeldBack|Close|Flush' .

soak: ## the stress test at 200,000 messages (CI runs it at 4,000)
	SOAK_MESSAGES=200000 $(GO) test -race -count=1 -timeout 30m -run 'TestStress' -v .

ci: ## what CI runs
	bash .ci/run
