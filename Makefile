# memcached-http developer tasks. `make test` is what CI runs (.ci/run).
GO      ?= go
SPEC    := api/openapi.yaml
REDOCLY := npx --no-install redocly

.PHONY: run test vet fmt-check generate generate-check lint spec-lint redis-check go-test bench

## run: start the server on 127.0.0.1:8080 (flags: make run ARGS='-addr :9000')
run:
	$(GO) run ./cmd/memcached-http $(ARGS)

## test: everything CI checks
test: vet fmt-check generate-check spec-lint redis-check go-test

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## generate: regenerate internal/gen from the spec
generate:
	$(GO) generate ./...

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

## bench: cache engine benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/cache/
