# recarga — the two commands of the README (`make run`, `make test`) and what they share.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp

.PHONY: setup nettools postgres run down test lint typecheck screenshots clean

## setup: venv in .venv, the pinned requirements, the project itself (editable: its packages and the commands
## recarga, recarga-vehicle, recarga-events, recarga-broker work from any folder), Debian's mosquitto.
## Safe to run again; fast when nothing changed.
setup: $(STAMP)
	@bash scripts/ensure-mosquitto.sh

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

## nettools: iproute2 and nftables for the multi-host tests (apt-get as root when missing; they skip otherwise).
nettools:
	@bash scripts/ensure-nettools.sh

## postgres: Debian's postgresql for the PostgreSQL event-store tests (apt-get as root when missing; they skip otherwise).
postgres:
	@bash scripts/ensure-postgresql.sh

## run: the whole local network (brokers, servers, dashboards) on this machine; Ctrl-C stops it.
run: setup
	$(VENV)/bin/recarga up

down: setup
	$(VENV)/bin/recarga down

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

## test: set-up, lint, type checks, then the whole suite — the browser tests included (Debian's chromium is
## installed like mosquitto, apt-get as root, or the run stops at once saying what to install); the multi-host
## tests need root and skip otherwise; the PostgreSQL ones skip where postgresql cannot be installed (.ci/run
## requires them).
test: lint typecheck nettools postgres
	@bash scripts/ensure-chromium.sh
	RECARGA_REQUIRE_BROWSER=1 $(VENV)/bin/pytest

## screenshots: the browser test, saving its screenshots into docs/screenshots.
screenshots: setup
	bash scripts/ensure-chromium.sh
	RECARGA_REQUIRE_BROWSER=1 RECARGA_SCREENSHOTS_DIR=docs/screenshots $(VENV)/bin/pytest tests/dashboards/test_browser.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache run
