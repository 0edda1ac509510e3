# Two entry points: `make up STACK=<cluster>` and `make test`.
PYTHON ?= python3
VENV ?= .venv
STACK ?=

.PHONY: up test lint venv render bench

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

test: lint
	$(VENV)/bin/pytest

# Offline render into rendered/<stack>/ (all stacks when STACK is empty); no Pulumi CLI, no cluster.
render: $(VENV)/.installed
	$(VENV)/bin/python -m tools.render $(if $(STACK),$(STACK),--all)

# Cost of the program's own logic on the mock engine, against a bare program registering the same resources.
bench: $(VENV)/.installed
	$(VENV)/bin/python -m tools.bench
