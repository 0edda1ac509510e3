# Two entry points: `make up STACK=<cluster>` and `make test`.
PYTHON ?= python3
VENV ?= .venv
STACK ?=

.PHONY: up test lint venv render docs bench e2e e2e-bin demo demo-down fleet fixtures prometheus-bin

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

up: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make up STACK=<cluster>" >&2; exit 2; }
	./bin/pulumi-up $(STACK)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The tests that run Prometheus or promtool run on each supported release, built from the Prometheus module (and
# cached) when Go is there; without Go they skip (and fail under CI=true).
prometheus-bin:
	@if command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ]; then tests/e2e/build-binaries.sh prometheus prometheus2; \
	else echo "make test: no Go, so no Prometheus built: the tests that run Prometheus skip (CI=true fails them)"; fi

test: lint prometheus-bin
	$(VENV)/bin/pytest

# One action over every cluster stack at once (README: Fleet): ACTION=preview|up|drift|verify; STACKS="a b" to
# choose; PARALLEL stacks at a time (default: the CPU count); JSON=1 for one JSON document on stdout;
# EXPECT_NO_CHANGES=1 to exit 2 on changes or drift; MARKDOWN=<file> to write the summary as Markdown too.
ACTION ?= preview
fleet: $(VENV)/.installed
	@$(VENV)/bin/python -m fleet $(ACTION) $(if $(STACKS),--stacks "$(STACKS)") $(if $(PARALLEL),--parallel $(PARALLEL)) \
		$(if $(JSON),--json) $(if $(EXPECT_NO_CHANGES),--expect-no-changes) $(if $(MARKDOWN),--markdown "$(MARKDOWN)")

# Offline render into rendered/<stack>/ (all stacks when STACK is empty); no Pulumi CLI, no cluster.
render: $(VENV)/.installed
	$(VENV)/bin/python -m tools.evaluator.render $(if $(STACK),$(STACK),--all)

# Pulumi.yaml's config block and the README's configuration tables, from the configuration model;
# the component package's Args (package/args.py) from the same model.
docs: $(VENV)/.installed
	$(VENV)/bin/python -m configuration.docs --write
	$(VENV)/bin/python -m package.generate --write

# Cost of the program's own logic on the mock engine, against a bare program registering the same resources.
bench: $(VENV)/.installed
	$(VENV)/bin/python -m tools.evaluator.bench

# Builds the e2e binaries from Go modules into ~/.cache/calico-monitoring/e2e (once per version).
e2e-bin:
	tests/e2e/build-binaries.sh

# tests/fixtures/metrics/targets/*-quiet.prom captured anew from the real Felix (iptables and nftables), Typha and
# calico-kube-controllers, each in a network namespace of its own against a local API server.
fixtures: $(VENV)/.installed e2e-bin
	$(VENV)/bin/python -m tests.e2e.capture_expositions --write

# The real Pulumi CLI, kube-apiserver and calicoctl against a local control plane on loopback. The scenarios
# mostly wait (API servers, the CLI and its plugins starting, polls): E2E_WORKERS of them run at once, each
# worker with addresses and ports of its own (E2E_WORKERS=0 runs them one by one).
E2E_WORKERS ?= 2
e2e: $(VENV)/.installed e2e-bin
	$(VENV)/bin/pytest tests/e2e -m e2e -n $(E2E_WORKERS) $(E2E_ARGS)

# A local control plane with simulated nodes, prometheus-operator and Prometheus, and the program applied to it.
demo: $(VENV)/.installed e2e-bin
	$(VENV)/bin/python -m tests.e2e.demo up $(if $(NODES),--nodes $(NODES),)

demo-down: $(VENV)/.installed
	$(VENV)/bin/python -m tests.e2e.demo down
