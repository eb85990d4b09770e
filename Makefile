# busywork: build, test and run locally without Docker.
#
#   make test            vet + all tests (-race) against the local emulators
#   make bench           benchmarks against the local emulators: the main
#                        module's, then bench/ (busywork against the Go CDK)
#   make dev             emulators + bootstrap + worker, until Ctrl-C
#   make emulators-up    start the emulators for your own shell (dev ports)
#   make emulators-down  stop them
#   make image           the container image busywork:dev (needs a Docker engine)
#   make infra-validate  terraform validate on infra/ (needs the Terraform registry)
#
# The emulators (localstack/emulators.sh) need Node >= 20 and Java >= 17;
# make test also needs Chromium, for the console's browser tests.
# Tests use their own ports and folder, so `make test` runs beside `make dev`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

EMULATORS := localstack/emulators.sh
WITH_EMULATORS := localstack/with-emulators.sh

DEV_DIR := .emulators/dev
DEV_PORTS := SQS_PORT=9324 DYNAMODB_PORT=8000 SES_PORT=8005
TEST_DIR := .emulators/test
TEST_PORTS := SQS_PORT=19324 DYNAMODB_PORT=18000 SES_PORT=18005

GO_TEST_FLAGS ?= -race -count=1 -timeout 15m
BENCH_FLAGS ?= -run '^$$' -bench . -benchmem
# bench/ is a module of its own (so that the main module never depends on
# gocloud.dev); BENCH_JOBS is the jobs of each of its no-op drains.
DRAIN_FLAGS ?= -run '^$$' -bench . -benchtime=1x -timeout 30m
BENCH_JOBS ?= 50000

.PHONY: test bench dev emulators-up emulators-down check-go check-chromium image infra-validate

check-go:
	@command -v go >/dev/null 2>&1 || { \
		echo "make: Go is not installed or not on PATH (busywork needs the Go toolchain named in go.mod; https://go.dev/doc/install)" >&2; \
		exit 1; }

# The console's browser tests drive a headless Chromium (internal/testenv/chrome
# looks in the same places); under make test they fail without one, never skip.
check-chromium:
	@if [ -z "$${BUSYWORK_CHROMIUM:-}" ] && [ ! -x /usr/lib/chromium/chromium ] && \
		! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && \
		! command -v google-chrome-stable >/dev/null 2>&1; then \
		echo "make: Chromium is not installed (the console's browser tests need it; Debian: apt-get install chromium, or set BUSYWORK_CHROMIUM to a Chrome or Chromium binary)" >&2; \
		exit 1; fi

# vet and test both run, on the main module and then on the examples (each a
# module of its own, built on busywork's public packages); the recipe fails
# if any did (test's status first). Flags reach the inner shell as
# arguments, so they may hold quotes.
EXAMPLES := examples/shop
test: check-go check-chromium
	@$(TEST_PORTS) $(WITH_EMULATORS) $(TEST_DIR) -- env BUSYWORK_INTEGRATION=1 bash -c '\
		vet=0; st=0; \
		for dir in . $(EXAMPLES); do \
			(cd "$$dir" && go vet ./...) || vet=$$?; \
			(cd "$$dir" && go test "$$@" ./...) || st=$$?; \
		done; \
		if [ $$st -ne 0 ]; then exit $$st; fi; \
		if [ $$vet -ne 0 ]; then echo "make test: go vet failed" >&2; fi; \
		exit $$vet' make-test $(GO_TEST_FLAGS)

# One set of emulators for both modules; "--" separates their flags, which
# reach the inner shell as arguments, so they may hold quotes.
bench: check-go
	@$(TEST_PORTS) $(WITH_EMULATORS) $(TEST_DIR) -- env BUSYWORK_INTEGRATION=1 BUSYWORK_BENCH_JOBS=$(BENCH_JOBS) bash -c '\
		main=(); while [ $$# -gt 0 ] && [ "$$1" != -- ]; do main+=("$$1"); shift; done; shift; \
		go test "$${main[@]}" ./... && cd bench && go test "$$@" .' make-bench $(BENCH_FLAGS) -- $(DRAIN_FLAGS)

define DEV_HINT

busywork dev: emulators up, the lanes' queues and the table bootstrapped; the worker and
the web app run below (Ctrl-C stops them and the emulators).
  1. In another shell:  source $(DEV_DIR)/env
                        go run ./cmd/busywork user add --name Ada ada@example.com
  2. Log in at http://127.0.0.1:8080/ with ada@example.com
  3. Read the mail at http://127.0.0.1:8005/, open its link and press Sign in
  4. Signed in, order tickets on the same page; they arrive by mail at :8005
The worker runs without BUSYWORK_TICKET_KEY here, since every endpoint is local
(it warns); anywhere else it needs one.
Smoke test:  go run ./cmd/busywork send ping '{"message":"hello"}'

endef
export DEV_HINT

dev: check-go
	@go build -o bin/busywork ./cmd/busywork
	@$(DEV_PORTS) $(WITH_EMULATORS) $(DEV_DIR) -- bash -c '\
		bin=bin/busywork; \
		$$bin bootstrap || exit $$?; \
		printf "%s\n" "$$DEV_HINT"; \
		$$bin web & web=$$!; \
		st=0; $$bin worker || st=$$?; \
		kill -TERM $$web 2>/dev/null; wait $$web; \
		exit $$st'

emulators-up:
	@$(DEV_PORTS) $(EMULATORS) start $(DEV_DIR)
	@echo "Now: source $(DEV_DIR)/env   (mail: http://127.0.0.1:8005/; stop with: make emulators-down)"

emulators-down:
	@$(EMULATORS) stop $(DEV_DIR)

# The image the Dockerfile builds, stamped with the git version.
image:
	docker build --build-arg VERSION=$$(git describe --tags --always --dirty 2>/dev/null || echo dev) -t busywork:dev .

# terraform validate needs the AWS provider, which only the Terraform
# registry serves: these machines cannot fetch it, so make test checks
# infra/ without it (internal/shipping) and this target is for the others.
INFRA_ROOT := infra/examples/complete
infra-validate:
	terraform -chdir=$(INFRA_ROOT) init -backend=false -input=false
	terraform -chdir=$(INFRA_ROOT) validate
