# Payment Gateway Aggregator: every task has one way to run it. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

KAFKA := go-service/tools/kafka/kafka.sh
BUF := node-service/node_modules/.bin/buf
FUZZTIME ?= 5s
ARGS ?=

.PHONY: help deps gen gen-check lint test test-go test-fuzz test-ts test-faults demo server producer client replay kafka-up kafka-down

help: ## Show the tasks
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: node-service/node_modules/.installed ## Install Go modules and npm packages
	@cd go-service && go mod download

node-service/node_modules/.installed: node-service/package-lock.json
	cd node-service && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

gen: deps ## Regenerate Go (go-service/pb) and TypeScript (node-service/src/gen) code from proto/
	cd go-service && go build -o bin/ tool
	$(BUF) lint proto
	$(BUF) generate proto --template proto/buf.gen.yaml

gen-check: deps ## Fail if the committed generated code is not what `make gen` makes
	@cd go-service && go build -o bin/ tool
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  $(BUF) generate proto --template proto/buf.gen.yaml --output $$tmp && \
	  diff -r $$tmp/go-service/pb go-service/pb && diff -r $$tmp/node-service/src/gen node-service/src/gen && \
	  echo "generated code is up to date" || { echo "generated code is stale: run make gen"; exit 1; }

lint: deps ## gofmt, go vet, tsc --noEmit, buf lint
	@test -z "$$(gofmt -l go-service | grep -v '/pb/')" || { gofmt -l go-service | grep -v '/pb/'; echo "gofmt: the files above need formatting"; exit 1; }
	cd go-service && go vet ./...
	cd node-service && npx tsc --noEmit
	$(BUF) lint proto

test: kafka-up deps gen-check test-go test-fuzz test-ts test-faults ## Every test: Go unit + integration on real Kafka, fuzzing, TypeScript, lessons, broker restart

test-go: ## Go unit and integration tests, lesson checks (needs Kafka: make kafka-up)
	cd go-service && REQUIRE_KAFKA=1 LESSONS_RUN=1 go test -count=1 -timeout 20m ./...

test-faults: kafka-up ## Fault tests that restart the local Kafka broker (run alone: they stop it)
	cd go-service && REQUIRE_KAFKA=1 E2E_KAFKA_RESTART=1 go test -count=1 -timeout 10m -run 'TestBrokerRestartLosesNothing|TestHealthFollowsKafka' -v ./e2e

test-fuzz: ## Run every fuzz target for FUZZTIME (default 5s)
	@cd go-service && for pkg in internal/normalizer internal/state; do \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9]*' $$pkg/*_test.go | cut -d' ' -f2); do \
	    echo "fuzz $$target for $(FUZZTIME)"; \
	    go test ./$$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) >/tmp/fuzz-$$target.log 2>&1 || { cat /tmp/fuzz-$$target.log; exit 1; }; \
	  done; \
	done

test-ts: deps ## TypeScript type check and tests
	cd node-service && npx tsc --noEmit && REQUIRE_KAFKA=1 npm test --silent

demo: deps ## Start everything, send payments, watch them arrive, stop everything
	@started=0; $(KAFKA) status >/dev/null 2>&1 || { $(KAFKA) up; started=1; }; \
	  rc=0; bash go-service/tools/demo.sh || rc=$$?; \
	  if [ $$started = 1 ]; then $(KAFKA) down; fi; exit $$rc

server: kafka-up ## Terminal 1: the gRPC server (ingest + serve)
	cd go-service && go run ./cmd/server $(ARGS)

producer: ## Terminal 2: send synthetic payments (ARGS="--count 20 --rate 5")
	cd go-service && go run ./cmd/producer $(ARGS)

replay: ## Re-drive dead letters to their raw topics once the normalizer is fixed (ARGS="-code unsupported_event -dry-run")
	cd go-service && go run ./cmd/replay $(ARGS)

client: deps ## Terminal 3: the TypeScript client printing [LOG] lines
	cd node-service && npx tsx src/index.ts $(ARGS)

kafka-up: ## Start local Kafka (KRaft) on 127.0.0.1:9092; first run resolves jars from Maven Central
	@$(KAFKA) up

kafka-down: ## Stop local Kafka
	@$(KAFKA) down

# Benchmarks (README.md, section "Performance"). Results go
# to bench/results/ (git-ignored). BENCH_ARGS passes flags to the bench program,
# e.g. BENCH_ARGS="-stages ingest,scaling -scaling-topics 1,10,100,500".
BENCH_OUT := $(CURDIR)/bench/results
BENCH_ARGS ?=

.PHONY: bench bench-smoke profile bench-build

bench-build:
	@cd go-service && go build -o bin/ ./cmd/server ./cmd/producer ./tools/bench

bench: kafka-up bench-build ## Benchmarks on local Kafka (a few minutes): table, JSON and Markdown in bench/results/
	cd go-service && bin/bench -out $(BENCH_OUT) $(BENCH_ARGS)

bench-smoke: kafka-up bench-build ## The same benchmarks at tiny sizes (seconds); fails if a stage gives no number
	cd go-service && bin/bench -smoke -out $(BENCH_OUT) $(BENCH_ARGS)

profile: kafka-up bench-build ## CPU profiles (pprof) of the server's stages under load and of the normalizers
	cd go-service && bin/bench profile -out $(BENCH_OUT)
	cd go-service && go test ./internal/normalizer -run '^$$' -bench BenchmarkNormalizeSynthetic -benchtime 1s \
	  -cpuprofile $(BENCH_OUT)/normalizer.cpu.prof -o $(BENCH_OUT)/normalizer.test >/dev/null
	@cd go-service && go tool pprof -top -nodecount=15 bin/bench $(BENCH_OUT)/ingest.cpu.prof 2>/dev/null | sed -n '1,22p'
	@echo
	@echo "Open the profiles (-http serves a flame graph on a free loopback port):"
	@echo "  go tool pprof -http=127.0.0.1:0 go-service/bin/bench bench/results/ingest.cpu.prof"
	@echo "  go tool pprof -http=127.0.0.1:0 bench/results/normalizer.test bench/results/normalizer.cpu.prof"
	@echo "  (or -top instead of -http=... for a text listing)"
