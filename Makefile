# memcached-http developer tasks. `make test` is what CI runs (.ci/run).
GO      ?= go
SPEC    := api/openapi.yaml
REDOCLY := npx --no-install redocly

.PHONY: run test vet fmt-check generate generate-check lint spec-lint redis-check go-test fuzz fuzz-ci bench \
	ts-deps ts-generate ts-test e2e-deps e2e-test chromium

## run: start the server on 127.0.0.1:8080 (flags: make run ARGS='-addr :9000')
run:
	$(GO) run ./cmd/memcached-http $(ARGS)

## test: everything CI checks
test: vet fmt-check generate-check spec-lint redis-check go-test fuzz-ci ts-test e2e-test

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## generate: regenerate internal/gen (and, with Node.js, sdk/ts/src/schema.gen.ts) from the spec
generate:
	$(GO) generate ./...
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory ts-generate; fi

## generate-check: generated code must match the spec byte for byte
generate-check: generate
	@git diff --exit-code -- internal/gen || { echo "internal/gen is stale: run make generate and commit"; exit 1; }
	@untracked="$$(git ls-files --others --exclude-standard -- internal/gen)"; \
	if [ -n "$$untracked" ]; then echo "untracked generated files: $$untracked"; exit 1; fi

## lint: static checks without running tests
lint: vet fmt-check spec-lint

# The spec linter is the one Node tool; without Node (a machine with only Go)
# it is reported as not run, and the Go tests still load and validate the
# spec with kin-openapi. On CI a missing Node is an error.
spec-lint:
	@if command -v npm >/dev/null 2>&1; then \
		[ -d node_modules/@redocly/cli ] || npm ci --no-audit --no-fund; \
		$(REDOCLY) lint --format=stylish $(SPEC); \
	elif [ -n "$${CI:-}" ]; then \
		echo "spec-lint: npm not found; CI needs Node.js >= 20.19 for @redocly/cli"; exit 1; \
	else \
		echo "spec-lint: NOT RUN (npm not found); install Node.js >= 20.19 to lint $(SPEC)"; \
	fi

# The Redis store's tests start their own redis-server. Without one they are
# skipped locally, and they fail on CI; either way, say what to install.
redis-check:
	@if ! command -v redis-server >/dev/null 2>&1; then \
		if [ "$${CI:-}" = true ]; then \
			echo "redis-check: redis-server not found; CI needs it for the Redis store tests: apt-get install -y redis-server"; exit 1; \
		fi; \
		echo "redis-check: redis-server not found; the Redis store tests will be SKIPPED. Install it: apt-get install -y redis-server (Debian/Ubuntu) or brew install redis (macOS)"; \
	fi

go-test:
	$(GO) test -race ./...

# Native Go fuzz targets, as package:Target. Their seed corpora live in each
# package's testdata/fuzz; a failure there is a committed regression test.
FUZZ_TARGETS := internal/cache:FuzzNewKey internal/cache:FuzzExpiresAt \
	internal/handlers:FuzzBadInputNeverYields500 internal/handlers:FuzzValueRoundTrip
FUZZTIME ?= 10s

## fuzz: run every fuzz target for FUZZTIME each (default 10s: make fuzz FUZZTIME=5m)
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $${t#*:} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*}/; \
	done

# CI fuzzes each target briefly; go-test already ran the seed corpora.
fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

# The TypeScript SDK and the browser tests need Node.js >= 20. Without it
# they are reported as not run; on CI a missing Node is an error.
NODE_OK = command -v npm >/dev/null 2>&1 || { \
	if [ -n "$${CI:-}" ]; then echo "$@: npm not found; CI needs Node.js >= 20"; exit 1; fi; \
	echo "$@: NOT RUN (npm not found); install Node.js >= 20"; exit 0; }

ts-deps:
	@$(NODE_OK); cd sdk/ts && npm ci --no-audit --no-fund --loglevel=error

## ts-generate: regenerate the TypeScript SDK's types from the spec
ts-generate: ts-deps
	@$(NODE_OK); cd sdk/ts && npm run --silent generate

## ts-test: the TypeScript SDK: its types must match the spec, then node --test against the real binary
ts-test: ts-generate
	@$(NODE_OK); \
	git diff --exit-code -- sdk/ts/src/schema.gen.ts || { echo "sdk/ts/src/schema.gen.ts is stale: run make generate and commit"; exit 1; }; \
	cd sdk/ts && npm test

e2e-deps: ts-deps
	@$(NODE_OK); cd e2e && npm ci --no-audit --no-fund --loglevel=error

# The browser tests drive Debian's chromium (never a downloaded browser build).
# As root with apt-get it is installed here; otherwise the run stops and says
# what to install.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "chromium: installing Debian's chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || exit 1; \
		else \
			echo "e2e-test: /usr/bin/chromium not found; install it: sudo apt-get install -y chromium (Debian/Ubuntu)"; exit 1; \
		fi; \
	fi

## e2e-test: /docs, CORS and the TypeScript SDK in headless Chromium
e2e-test: e2e-deps chromium
	@$(NODE_OK); cd e2e && npm test

## bench: cache engine benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/cache/
