# calibd — two commands do everything on a fresh Debian machine:
#   make demo   set up (venv, locked deps, mosquitto) and bring up the HIL stack
#   make test   set up, then lint, type check, import contracts, all tests
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
# uv: the one on PATH, else the private bootstrap venv's, else `python3 -m uv` (resolved when a
# recipe runs, so after uv-installed). A fresh Debian 12 has no pip for the system python (PEP 668),
# so uv is bootstrapped into $(UV_BOOT)/ (git-ignored), a venv of its own, never into the system.
UV_BOOT := .uv
HAVE_UV = { command -v uv >/dev/null 2>&1 || [ -x $(UV_BOOT)/bin/uv ] || python3 -m uv --version >/dev/null 2>&1; }
UV = $(shell command -v uv 2>/dev/null || { [ -x $(UV_BOOT)/bin/uv ] && echo $(UV_BOOT)/bin/uv; } || echo python3 -m uv)

# apt packages: python3 always (uv syncs .venv on it); python3-venv when uv has to be bootstrapped
# (Debian's python3 has no ensurepip without it); mosquitto (with mosquitto_passwd) for the private
# brokers; openssl for the tests' throw-away CA.
NEED_PYTHON = command -v python3 >/dev/null 2>&1 || missing="$$missing python3"; \
	$(HAVE_UV) || python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"
NEED_MOSQUITTO = { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; } || missing="$$missing mosquitto"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"
# one apt step for everything in $$missing: as root, with passwordless sudo, or a clear error
APT_INSTALL = if [ -z "$$missing" ]; then :; \
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

.PHONY: packages python uv-installed help setup venv mosquitto demo test lint typecheck contracts pytest schema bench clean

help:
	@echo "make demo   - install what is missing and run the HIL demo (mosquitto + calibsim + calibd)"
	@echo "make test   - install what is missing, then ruff, mypy --strict, import-linter, pytest"
	@echo "make bench  - the benchmark suite, JSON (BENCH_ARGS=--quick, --update-readme: bench/README.md)"
	@echo "make schema - regenerate config/schema.json"

# every missing apt package first (one apt step), then uv and the venv
setup: packages venv

packages:
	@missing=""; $(NEED_PYTHON); $(NEED_MOSQUITTO); $(APT_INSTALL)
	@# the Debian package enables a system broker on :1883; tests and demo use their own private brokers

python:
	@missing=""; $(NEED_PYTHON); $(APT_INSTALL)

mosquitto:
	@missing=""; $(NEED_MOSQUITTO); $(APT_INSTALL)

uv-installed: | python
	@$(HAVE_UV) || { echo "installing uv from PyPI into $(UV_BOOT)/"; rm -rf $(UV_BOOT) && \
		python3 -m venv $(UV_BOOT) && \
		$(UV_BOOT)/bin/python -m pip install --quiet --disable-pip-version-check uv; }

venv: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock | uv-installed
	$(UV) sync --frozen --python python3
	@touch $@

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
	rm -rf $(VENV) $(UV_BOOT) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
