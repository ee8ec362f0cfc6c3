# memcached-http developer tasks. `make test` is what CI runs (.ci/run).
GO      ?= go
SPEC    := api/openapi.yaml
REDOCLY := npx --no-install redocly

.PHONY: run test vet fmt-check generate generate-check lint spec-lint redis-check memcached-check go-test py-test fuzz fuzz-ci bench bench-cache bench-cache-scale \
	ts-deps ts-generate ts-test e2e-deps e2e-test chromium \
	release release-check docker-check sdk-install-check readme-deps sdk-matrix sdk-matrix-deps perl-openapi-client

## run: start the server on 127.0.0.1:8080 (flags: make run ARGS='-addr :9000')
run:
	$(GO) run ./cmd/memcached-http $(ARGS)

## test: everything CI checks
test: vet fmt-check generate-check spec-lint redis-check memcached-check readme-deps go-test py-test fuzz-ci ts-test e2e-test \
	sdk-install-check release-check docker-check ui-check sdk-matrix

# The Go SDK is its own module (sdk/go.mod), which ./... at the root leaves out.
vet:
	$(GO) vet ./...
	cd sdk && $(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## generate: regenerate internal/gen (and, with Node.js, sdk/ts/src/schema.gen.ts) from the spec
generate:
	$(GO) generate ./...
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory ts-generate; fi

## generate-check: generated code must match the spec byte for byte
generate-check: generate
	@git diff --exit-code -- internal/gen sdk/client || { echo "generated Go code is stale: run make generate and commit"; exit 1; }
	@untracked="$$(git ls-files --others --exclude-standard -- internal/gen sdk/client)"; \
	if [ -n "$$untracked" ]; then echo "untracked generated files: $$untracked"; exit 1; fi

## lint: static checks without running tests
lint: vet fmt-check spec-lint

# The spec linter is the one Node tool; without Node (a machine with only Go)
# it is reported as not run, and the Go tests still load and validate the
# spec with kin-openapi. On CI a missing Node is an error.
# Spectral (oas) and vacuum (recommended) must find no error and no warning;
# the rules switched off are in sdk-matrix/spectral.yaml and vacuum.yaml, each
# with its reason. vacuum is a Go tool (sdk-matrix/go/go.mod), so it runs
# wherever Go does; --no-update-check keeps it from asking for new releases.
spec-lint:
	@if command -v npm >/dev/null 2>&1; then \
		[ -d node_modules/@redocly/cli ] || npm ci --no-audit --no-fund; \
		$(REDOCLY) lint --format=stylish $(SPEC) || exit 1; \
		[ -d sdk-matrix/node_modules/@stoplight/spectral-cli ] || (cd sdk-matrix && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
		(cd sdk-matrix && npx --no-install spectral lint --fail-severity=warn -r spectral.yaml ../$(SPEC)) || exit 1; \
	elif [ -n "$${CI:-}" ]; then \
		echo "spec-lint: npm not found; CI needs Node.js >= 20.19 for @redocly/cli"; exit 1; \
	else \
		echo "spec-lint: redocly and spectral NOT RUN (npm not found); install Node.js >= 20.19 to lint $(SPEC)"; \
	fi
	cd sdk-matrix/go && $(GO) tool vacuum lint --no-style --no-banner --details --no-update-check --fail-severity warn -r ../vacuum.yaml ../../$(SPEC)

# The Redis store's tests start their own redis-server. It is installed here
# when missing and this is root with apt-get; otherwise the tests are skipped
# locally and fail on CI, and either way this says what to install.
redis-check:
	@if ! command -v redis-server >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "redis-check: installing Debian's redis-server for the Redis store tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null || exit 1; \
		elif [ "$${CI:-}" = true ]; then \
			echo "redis-check: redis-server not found; CI needs it for the Redis store tests: apt-get install -y redis-server"; exit 1; \
		else \
			echo "redis-check: redis-server not found; the Redis store tests will be SKIPPED. Install it: apt-get install -y redis-server (Debian/Ubuntu) or brew install redis (macOS)"; \
		fi; \
	fi

# The memcached listener's tests run memcached 1.6 itself (the oracle of the
# differential test), libmemcached's memccapable and pymemcache (Debian's
# /usr/bin/python3). They are installed here when missing and this is root
# with apt-get; otherwise those tests are skipped locally and fail on CI,
# and either way this says what to install.
MEMCACHED_DEBS := memcached libmemcached-tools python3-pymemcache
memcached-check:
	@missing=""; 	command -v memcached >/dev/null 2>&1 || missing="$$missing memcached"; 	command -v memccapable >/dev/null 2>&1 || missing="$$missing libmemcached-tools"; 	/usr/bin/python3 -c 'import pymemcache' >/dev/null 2>&1 || missing="$$missing python3-pymemcache"; 	if [ -n "$$missing" ]; then 		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then 			echo "memcached-check: installing Debian's$$missing for the memcached listener tests"; 			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; 		elif [ "$${CI:-}" = true ]; then 			echo "memcached-check: missing$$missing; CI needs them for the memcached listener tests: apt-get install -y $(MEMCACHED_DEBS)"; exit 1; 		else 			echo "memcached-check: missing$$missing; the memcached listener's differential, memccapable and pymemcache tests will be SKIPPED. Install: apt-get install -y $(MEMCACHED_DEBS)"; 		fi; 	fi

go-test:
	$(GO) test -race ./...
	# The allocation bounds again without the race detector, whose sync.Pool
	# drops pooled buffers at random and so loosens them.
	$(GO) test -count=1 -run 'Alloc' ./internal/...
	cd sdk && $(GO) test -race ./...

## py-test: the Python drop-in client against the real binary (needs python3 >= 3.9)
py-test:
	sdk/python/run_tests.sh

# Native Go fuzz targets, as package:Target. Their seed corpora live in each
# package's testdata/fuzz; a failure there is a committed regression test.
FUZZ_TARGETS := internal/cache:FuzzNewKey internal/cache:FuzzExpiresAt \
	internal/handlers:FuzzBadInputNeverYields500 internal/handlers:FuzzValueRoundTrip \
	internal/handlers:FuzzAppendJSONString internal/handlers:FuzzParseBatchGet internal/handlers:FuzzWriteFastPaths \
	sdk:FuzzScalarsRoundTrip
# Any bytes on a memcached connection: no panic, no hang, well-framed answers.
FUZZ_TARGETS += internal/memcached:FuzzProtocol
# A request the HTTP front takes is one net/http reads the same.
FUZZ_TARGETS += internal/handlers:FuzzFrontParsesAsNetHTTP
# The snapshot loader must refuse any damaged file without panicking.
FUZZ_TARGETS += internal/cache/snapshot:FuzzLoad
FUZZTIME ?= 10s

## fuzz: run every fuzz target for FUZZTIME each, a duration or a count of inputs (default 10s: make fuzz FUZZTIME=5m, make fuzz FUZZTIME=100000x)
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $${t#*:} for $(FUZZTIME)"; \
		dir="$${t%%:*}"; mod=.; case "$$dir" in sdk|sdk/*) mod=sdk; dir=".$${dir#sdk}";; esac; \
		(cd "$$mod" && $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$$dir/); \
	done

# CI fuzzes each target briefly; go-test already ran the seed corpora. The
# budget is a count of inputs, not a duration: how much a duration covers
# depends on the machine's load, and a time-based -fuzztime can end a run
# with a spurious "context deadline exceeded" failure (golang/go#75804).
FUZZ_CI_COUNT ?= 2000x
fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_CI_COUNT)

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

## e2e-test: /docs, the dashboard at /ui, CORS and the TypeScript SDK in headless Chromium
e2e-test: e2e-deps chromium
	@$(NODE_OK); cd e2e && npm test

# npm ci only when node_modules is older than the lockfile (npm writes
# node_modules/.package-lock.json on every install): the generators are many.
sdk-matrix-deps:
	@$(NODE_OK); cd sdk-matrix && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }

# The Perl generator is Debian's OpenAPI::Client. As root with apt-get it is
# installed here; otherwise the run stops and says what to install.
perl-openapi-client:
	@if ! perl -MOpenAPI::Client -e 1 2>/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "sdk-matrix: installing Debian's libopenapi-client-perl"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenapi-client-perl >/dev/null || exit 1; \
		else \
			echo "sdk-matrix: Perl's OpenAPI::Client not found; install it: sudo apt-get install -y libopenapi-client-perl (Debian/Ubuntu)"; exit 1; \
		fi; \
	fi

## sdk-matrix: seven third-party generators each make a client from the spec, compile it and run one scenario against the binary
sdk-matrix: sdk-matrix-deps perl-openapi-client
	@$(NODE_OK); cd sdk-matrix && node --test --test-concurrency=1 run.mjs

## bench: HTTP load (wrk + memcached-bench) against our server, over Redis, the net/http ceiling and Webdis, then the memcached listener against memcached 1.6 with memcaslap; writes BENCHMARKS.md (about 7 min)
bench:
	scripts/bench/run.sh
	scripts/bench/memcached.sh

## bench-cache: cache engine benchmarks against the map+RWMutex baseline (the 10M-item p99 one: make bench-cache-scale)
bench-cache:
	$(GO) test -run '^$$' -bench '^Benchmark(Get|GetParallel|Set|Incr|ItemOverhead|Stats)$$' -benchmem ./internal/cache/

bench-cache-scale:
	$(GO) test -run '^$$' -bench GetP99Scale -count 3 -timeout 30m ./internal/cache/

.PHONY: memtest bench-before-after

## memtest: the real binary's peak RSS (VmHWM) against 1.15 × -memory-limit + 32 MiB under every load of issue 14, at 64 MiB and 1 GiB (about 10 min; make test runs three short loads)
memtest:
	MEMTEST=full $(GO) test -count=1 -v -timeout 60m ./internal/memtest/

## bench-before-after: GET and PUT throughput of this tree against BEFORE (a binary or git revision), interleaved: make bench-before-after BEFORE=main
bench-before-after:
	scripts/bench/before-after.sh $(BEFORE)

.PHONY: test-snapshot-full bench-snapshot

## test-snapshot-full: the snapshot round trip through SIGTERM and restart with 1M items (make test runs 20k)
test-snapshot-full:
	SNAPSHOT_ITEMS=1000000 $(GO) test -run 'TestSnapshotRoundTripThroughSIGTERM|TestRoundTripKeepsEveryItemAndLock' -timeout 30m -v ./cmd/memcached-http/ ./internal/cache/snapshot/

## bench-snapshot: snapshot write and load of 1 GiB (100-byte and 10 KB values), and HTTP p99 during periodic snapshots (needs wrk)
bench-snapshot:
	scripts/bench/snapshot.sh

## release: static binaries for linux and darwin on amd64 and arm64 in dist/, stamped with VERSION, and dist/SHA256SUMS
release:
	GO=$(GO) scripts/release.sh

# CI builds the release and checks it: static, stamped, sums that verify.
release-check: release
	GO=$(GO) scripts/release-check.sh

## docker-check: build the container image and try it, where docker or podman can run (otherwise it says NOT RUN)
docker-check:
	@scripts/docker-check.sh

## sdk-install-check: install each SDK from this checkout into a scratch project (Go: replace + go get; TypeScript: npm install sdk/ts; Python: pip install sdk/python into a fresh venv) and use it against the real binary
sdk-install-check:
	GO=$(GO) scripts/sdk-install-check.sh

.PHONY: ui ui-check

# The dashboard at /ui: ui/src and the chart library (uPlot, pinned by
# ui/package-lock.json) are built into internal/ui/dist, which is committed
# so the binary builds with Go alone, and which CI rebuilds and compares.
## ui: rebuild the dashboard's embedded assets (internal/ui/dist) from ui/
ui:
	@$(NODE_OK); cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

## ui-check: the committed dashboard assets must be what `make ui` builds
ui-check: ui
	@git diff --exit-code -- internal/ui/dist || { echo "internal/ui/dist is stale: run make ui and commit"; exit 1; }
	@untracked="$$(git ls-files --others --exclude-standard -- internal/ui/dist)"; \
	if [ -n "$$untracked" ]; then echo "untracked dashboard assets: $$untracked"; exit 1; fi

# The README's examples (readme_test.go, in go-test) run curl (and
# libmemcached's tools, which memcached-check installs). curl is installed
# here when missing and this is root with apt-get; otherwise this says what to
# install and the test fails.
readme-deps:
	@missing=""; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "readme-deps: installing Debian's$$missing for the README examples"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
		else \
			echo "readme-deps: missing$$missing; the README examples (readme_test.go) need them: apt-get install -y$$missing"; \
		fi; \
	fi
