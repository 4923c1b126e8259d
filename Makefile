# calibd — two commands do everything on a fresh Debian machine:
#   make demo   set up (venv, locked deps, mosquitto) and bring up the HIL stack
#   make test   set up, then lint, type check, import contracts, all tests
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: uv-installed help setup venv mosquitto demo test lint typecheck contracts pytest schema bench clean

help:
	@echo "make demo   - install what is missing and run the HIL demo (mosquitto + calibsim + calibd)"
	@echo "make test   - install what is missing, then ruff, mypy --strict, import-linter, pytest"
	@echo "make bench  - the benchmark suite, JSON (BENCH_ARGS=--quick, --update-readme: bench/README.md)"
	@echo "make schema - regenerate config/schema.json"

setup: venv mosquitto

uv-installed:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		{ echo "installing uv from PyPI"; python3 -m pip install --quiet uv; }

venv: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock | uv-installed
	$(UV) sync --frozen --python python3
	@touch $@

# mosquitto (with mosquitto_passwd) for the private brokers; openssl for the tests' throw-away CA
mosquitto:
	@missing=""; \
	{ command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; } || missing=" mosquitto"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing$$missing via apt"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		echo "installing$$missing via sudo apt"; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "ERROR:$$missing missing and this user cannot install it." >&2; \
		echo "       Run as root: apt-get install -y$$missing   (then re-run make)" >&2; exit 1; \
	fi
	@# the Debian package enables a system broker on :1883; tests and demo use their own private brokers
	@true

demo: setup
	$(VENV)/bin/calibd demo --config config/sim.toml

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

contracts: venv
	$(VENV)/bin/lint-imports

pytest: setup
	PATH="/usr/sbin:$$PATH" $(VENV)/bin/pytest

test: setup lint typecheck contracts pytest

schema: venv
	$(VENV)/bin/calibd schema > config/schema.json

# the whole suite, one JSON document on stdout (~8 min on 2 cores); it leaves README.md alone:
#   make bench BENCH_ARGS=--quick            (< 3 min)
#   make bench BENCH_ARGS=--update-readme    (refresh the README's table; bench/README.md)
bench: setup
	bench/run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
