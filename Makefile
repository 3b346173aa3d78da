# Near Miss Portal: `make run` (portal with demo data on SQLite), `make test` (the whole suite)
# and `make test-fast` (the quick subset for every edit). They set up everything they need on a
# fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8501
# The portal listens on this machine only unless told otherwise (e.g. make run ADDRESS=0.0.0.0).
ADDRESS ?= 127.0.0.1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# pytest-xdist workers for `make test`: one more than the CPUs (three on
# the 2-core machine), as a browser test leaves its worker's CPU idle while Chromium and the
# server answer (measured: 721 s with two, 685 s with three, the CPUs 89% then 97% busy).
# Each worker has its own PostgreSQL database and SQLite template, built once
# (tests/conftest.py).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# `make test-fast` has no browser tests to wait on: one worker per CPU (30 s against 39 s with
# three on the 2-core machine).
FAST_WORKERS ?= auto

.PHONY: install run test test-fast lint chromium postgres bench soak clean-db translations

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Debian's Chromium drives the browser tests (Playwright cannot download its own here);
# nginx is the reverse proxy of the two-server test (only run by it, never as a service).
chromium:
	@command -v chromium >/dev/null 2>&1 && test -x /usr/sbin/nginx || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  $(SUDO) apt-get install -y -qq chromium nginx >/dev/null; }

# Start the local PostgreSQL cluster if it is installed but stopped; the tests decide what a
# missing server means (a failure under CI=true).
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { command -v pg_ctlcluster >/dev/null 2>&1 && \
	  $(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; }

run: install
	NEARMISS_ENV=demo $(BIN)/nearmiss init
	NEARMISS_ENV=demo $(BIN)/nearmiss demo --if-empty
	NEARMISS_ENV=demo $(BIN)/streamlit run app.py --server.port $(PORT) --server.address $(ADDRESS)

lint: install
	$(BIN)/ruff check .

# The whole suite, both databases, browser tests included, in one run: tests go one at a time
# to whichever worker is free (`--maxschedchunk 1`; by default xdist hands each worker a
# quarter of its share up front, which put every browser test on one worker), the browser
# tests spread through the first three quarters of the run so that one worker mostly runs the
# CPU-bound rest beside each (tests/conftest.py). A module-scoped fixture (a seeded server) is
# built once per worker that runs it.
test: install chromium postgres
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --maxschedchunk 1 --durations=30 -rR

# Under a minute: the unit tests and the service tests on SQLite (no database server, no
# browser, no page tests); the slow modules of tests/conftest.py are left to `make test`.
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests/unit tests/integration -n $(FAST_WORKERS) -q \
	  -m "not postgresql and not slow"

# After changing what a reporter reads: collect the marked strings (babel.cfg) into
# locales/nearmiss.pot and merge them into every language's .po, where a translator fills in
# the new ones (tests/unit/test_i18n_catalogue.py fails until each has its translation).
# The .po files are compiled at start-up: nothing to build.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output \
	  --project "Near Miss Portal" -o locales/nearmiss.pot .
	$(BIN)/pybabel update -i locales/nearmiss.pot -d locales -D nearmiss --width 100 \
	  --ignore-obsolete

# Benchmarks (not tests): budgets at each size on both databases; figures in bench/RESULTS.md.
BENCH_SIZES ?= 10000 100000
bench: install chromium postgres
	@for n in $(BENCH_SIZES); do for db in sqlite postgresql; do \
	  $(BIN)/python bench/scale.py --reports $$n --backend $$db || exit 1; done; done

# A longer run of the concurrency workload than CI affords.
soak: install postgres
	$(BIN)/python bench/soak_writers.py --writers 16 --seconds 60

clean-db:
	rm -f data/nearmiss.db data/nearmiss.db-wal data/nearmiss.db-shm
