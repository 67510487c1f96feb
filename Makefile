# Payment Gateway Aggregator: every task has one way to run it. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

KAFKA := go-service/tools/kafka/kafka.sh
BUF := node-service/node_modules/.bin/buf
FUZZTIME ?= 5s
ARGS ?=

.PHONY: help deps gen gen-check lint test test-go test-fuzz test-ts test-browser test-faults demo server receiver producer client replay kafka-up kafka-down

help: ## Show the tasks
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

deps: node-service/node_modules/.installed ## Install Go modules and npm packages
	@cd go-service && go mod download

node-service/node_modules/.installed: node-service/package-lock.json
	cd node-service && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

gen: deps ## Regenerate Go (go-service/pb) and TypeScript (node-service/src/gen, dashboard/gen) code from proto/, and the dashboard bundle
	cd go-service && go build -o bin/ tool
	$(BUF) lint proto
	$(BUF) generate proto --template proto/buf.gen.yaml
	cd node-service && node dashboard/build.mjs

gen-check: deps ## Fail if the committed generated code is not what `make gen` makes
	@cd go-service && go build -o bin/ tool
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  $(BUF) generate proto --template proto/buf.gen.yaml --output $$tmp && \
	  diff -r $$tmp/go-service/pb go-service/pb && diff -r $$tmp/node-service/src/gen node-service/src/gen && \
	  diff -r $$tmp/node-service/dashboard/gen node-service/dashboard/gen && \
	  (cd node-service && node dashboard/build.mjs $$tmp/assets) && diff -r $$tmp/assets go-service/internal/dashboard/assets && \
	  echo "generated code is up to date" || { echo "generated code is stale: run make gen"; exit 1; }

lint: deps ## gofmt, go vet, tsc --noEmit, buf lint
	@test -z "$$(gofmt -l go-service | grep -v '/pb/')" || { gofmt -l go-service | grep -v '/pb/'; echo "gofmt: the files above need formatting"; exit 1; }
	cd go-service && go vet ./...
	@test -z "$$(gofmt -l lessons/code lessons/checks | grep -v '/pb/')" || { gofmt -l lessons/code lessons/checks | grep -v '/pb/'; echo "gofmt: the files above need formatting"; exit 1; }
	cd lessons/checks && go vet .
	cd node-service && npx tsc --noEmit && npx tsc --noEmit -p dashboard
	$(BUF) lint proto

test: kafka-up deps gen-check test-go test-fuzz test-ts test-browser lesson-gen-check lesson-test lesson-check-all test-faults ## Every test: Go unit + integration on real Kafka, fuzzing, TypeScript, the dashboard in Chromium, lessons and their checkpoints, broker restart

test-go: ## Go unit and integration tests, lesson checks (needs Kafka: make kafka-up)
	cd go-service && REQUIRE_KAFKA=1 LESSONS_RUN=1 go test -count=1 -timeout 20m ./...

test-faults: kafka-up ## Fault tests that restart the local Kafka broker (run alone: they stop it)
	cd go-service && REQUIRE_KAFKA=1 E2E_KAFKA_RESTART=1 go test -count=1 -timeout 10m -run 'TestBrokerRestartLosesNothing|TestHealthFollowsKafka|TestReceiverKafkaStoppedThenRetryLands' -v ./e2e

test-fuzz: ## Run every fuzz target in go-service for FUZZTIME (default 5s)
	@cd go-service && found=0 && for file in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
	  pkg=./$$(dirname $${file#./}); \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9]*' $$file | cut -d' ' -f2); do \
	    found=$$((found+1)); echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
	    go test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) >/tmp/fuzz-$$target.log 2>&1 || { cat /tmp/fuzz-$$target.log; exit 1; }; \
	  done; \
	done; [ $$found -gt 0 ] || { echo "no fuzz targets found"; exit 1; }

test-ts: deps ## TypeScript type check and tests
	cd node-service && npx tsc --noEmit && REQUIRE_KAFKA=1 npm test --silent

test-browser: deps ## The dashboard in headless Chromium (Debian's chromium; CHROMIUM=path overrides) against the real server and Kafka
	cd node-service && npx tsc --noEmit -p dashboard && node --import tsx --test dashboard/test/*.test.ts && \
	  REQUIRE_KAFKA=1 npx playwright test -c dashboard/playwright.config.ts

demo: deps ## Start everything, send payments, watch them arrive, stop everything
	@started=0; $(KAFKA) status >/dev/null 2>&1 || { $(KAFKA) up; started=1; }; \
	  rc=0; bash go-service/tools/demo.sh || rc=$$?; \
	  if [ $$started = 1 ]; then $(KAFKA) down; fi; exit $$rc

server: kafka-up ## Terminal 1: the gRPC server (ingest + serve)
	cd go-service && go run ./cmd/server $(ARGS)

receiver: ## Webhook receiver on :8080 (POST /webhooks/<gateway>); set the gateways' secrets in go-service/.env
	cd go-service && go run ./cmd/receiver $(ARGS)

producer: ## Terminal 2: send synthetic payments (ARGS="--count 20 --rate 5")
	cd go-service && go run ./cmd/producer $(ARGS)

replay: ## Re-drive dead letters to their raw topics once the normalizer is fixed (ARGS="-code unsupported_event -dry-run")
	cd go-service && go run ./cmd/replay $(ARGS)

client: deps ## Terminal 3: the TypeScript client printing [LOG] lines
	cd node-service && npx tsx src/index.ts $(ARGS)

kafka-up: ## Start local Kafka (KRaft) on 127.0.0.1:9092, SASL_SSL on 9094; first run resolves jars from Maven Central and makes a CA
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
	@cd go-service && go build -o bin/ ./cmd/server ./cmd/receiver ./cmd/producer ./tools/bench

bench: kafka-up bench-build deps ## Benchmarks on local Kafka (a few minutes): table, JSON and Markdown in bench/results/
	cd go-service && bin/bench -out $(BENCH_OUT) $(BENCH_ARGS)
	cd node-service && npx tsx dashboard/bench/bench.ts --out $(BENCH_OUT)

bench-smoke: kafka-up bench-build deps ## The same benchmarks at tiny sizes (seconds); fails if a stage gives no number
	cd go-service && bin/bench -smoke -out $(BENCH_OUT) $(BENCH_ARGS)
	cd node-service && npx tsx dashboard/bench/bench.ts --rate 100 --seconds 2 --flood 2000 --out $(BENCH_OUT)

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

# The course's build track (lessons/code/README.md): lessons/code/NN is the
# learner's project at the end of lesson NN; lessons/checks holds each
# lesson's checkpoint. N picks a lesson (default: all), DIR checks another folder.
LESSONS := 02 03 04 05 06 07 08 09
# An exercise NNx must fail on lessons/code/NN; lesson 10 has no snapshot of
# its own (its exercise builds on 09's), so 10x must fail on the last one.
LESSON_EXTRAS := 02x 03x 04x 05x 06x 07x 08x 09x 10x
N ?=
DIR ?=

.PHONY: lesson-check lesson-check-all lesson-test lesson-gen lesson-gen-check lesson-deps

lesson-deps: lessons/code/node_modules/.installed
	@cd lessons/checks && go build -o bin/lessoncheck .

lessons/code/node_modules/.installed: lessons/code/package-lock.json
	cd lessons/code && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lesson-check: lesson-deps ## Checkpoint of lesson N (N=04) on lessons/code/N, or on your own folder (DIR=~/pipeline); no N: all
	@cd lessons/checks && if [ -n "$(N)" ]; then \
	  bin/lessoncheck -lesson $(N) $(if $(DIR),-dir $(abspath $(DIR))); \
	else for n in $(LESSONS) $(LESSON_EXTRAS); do bin/lessoncheck -lesson $$n $(if $(DIR),-dir $(abspath $(DIR))) || exit 1; done; fi

lesson-check-all: lesson-deps ## Every checkpoint passes on its own folder and fails on the one before (CI)
	@cd lessons/checks && go test -count=1 .
	@cd lessons/checks && empty=$$(mktemp -d) && trap 'rm -rf "$$empty"' EXIT && mkdir -p $$empty/go-service && \
	  printf 'module example.com/empty/go-service\n\ngo 1.26.0\n' >$$empty/go-service/go.mod && \
	  prev=$$empty && \
	  for n in $(LESSONS); do \
	    REQUIRE_KAFKA=1 bin/lessoncheck -lesson $$n && REQUIRE_KAFKA=1 bin/lessoncheck -lesson $$n -dir $$prev -expect-fail && \
	      REQUIRE_KAFKA=1 bin/lessoncheck -lesson $$n -dir $$prev -expect-fail -no-probes || exit 1; \
	    prev=$(CURDIR)/lessons/code/$$n; \
	  done; \
	  for x in $(LESSON_EXTRAS); do \
	    base=$(CURDIR)/lessons/code/$${x%x}; [ -d $$base ] || base=$$prev; \
	    REQUIRE_KAFKA=1 bin/lessoncheck -lesson $$x && REQUIRE_KAFKA=1 bin/lessoncheck -lesson $$x -dir $$base -expect-fail && \
	      REQUIRE_KAFKA=1 bin/lessoncheck -lesson $$x -dir $$base -expect-fail -no-probes || exit 1; \
	  done

lesson-test: lesson-deps ## Each lessons/code snapshot's own Go and TypeScript tests and go vet, as its learner runs them (needs Kafka)
	@for dir in lessons/code/*/go-service; do \
	  (cd $$dir && go vet ./... && REQUIRE_KAFKA=1 go test -count=1 ./... | { grep -v -e '^ok' -e 'no test files' || true; }) || { echo "$$dir: tests failed"; exit 1; }; \
	done
	@for dir in lessons/code/*/node-service; do \
	  [ -d $$dir/test ] || continue; \
	  out=$$(cd $$dir && node --import tsx --test test/*.test.ts 2>&1) || { echo "$$out"; echo "$$dir: tests failed"; exit 1; }; \
	done; echo "lessons/code: every snapshot's tests pass"

lesson-gen-check: lesson-deps ## Fail if a lessons/code snapshot's generated code is not what its proto/ makes
	@cd go-service && go build -o bin/ tool
	@for dir in lessons/code/*/; do \
	  [ -f $$dir/proto/buf.gen.yaml ] || continue; \
	  tmp=$$(mktemp -d); \
	  (cd $$dir && PATH="$(CURDIR)/go-service/bin:$(CURDIR)/lessons/code/node_modules/.bin:$$PATH" buf generate proto --template proto/buf.gen.yaml --output $$tmp) && \
	  for out in go-service/pb node-service/src/gen; do \
	    [ -d $$tmp/$$out ] || continue; \
	    diff -r $$tmp/$$out $$dir$$out >/dev/null || { rm -rf $$tmp; echo "$$dir$$out is stale: run make lesson-gen N=$$(basename $$dir)"; exit 1; }; \
	  done; rm -rf $$tmp; \
	done; echo "lessons/code: generated code is up to date"

lesson-gen: lesson-deps ## Regenerate lessons/code/N's Go (and, from lesson 06, TypeScript) code from its proto/
	@test -n "$(N)" || { echo "lesson-gen: say which lesson, e.g. make lesson-gen N=04"; exit 1; }
	cd lessons/code/$(N)/go-service && go build -o bin/ tool
	cd lessons/code/$(N) && PATH="$$PWD/go-service/bin:$(CURDIR)/lessons/code/node_modules/.bin:$$PATH" buf generate proto --template proto/buf.gen.yaml
