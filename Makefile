# refnet: every verb creates what it needs (virtualenv, node_modules) on first use.
SHELL := /bin/bash
UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
UV := .uv/bin/uv
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1

.DEFAULT_GOAL := help
.PHONY: help install demo test bench bench-scale lint format clean

help: ## list the verbs
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# uv lives in its own small venv so `uv sync` never removes itself from the project's.
$(UV):
	python3 -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra dev --python python3.11
	@touch $@

reports/node_modules/.installed: reports/package.json reports/package-lock.json
	cd reports && npm install --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.synced reports/node_modules/.installed ## create the virtualenv and install the report site's packages

demo: install ## run the nightly pipeline once against the bundled sandbox API
	$(VENV)/bin/refnet demo

test: install ## run the test suite (real Prefect, dbt, GX, Evidence)
	$(VENV)/bin/pytest -n auto --dist loadgroup

bench: $(VENV)/.synced reports/node_modules/.installed ## benchmarks vs dlt and raw DuckDB (~17 min); writes bench/results/
	$(UV) sync --frozen --extra dev --extra bench --python python3.11
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)

bench-scale: $(VENV)/.synced ## transforms at 1, 10 and 50 clinics (~1 M referrals; most of an hour)
	$(UV) sync --frozen --extra dev --extra bench --python python3.11
	$(VENV)/bin/python bench/run.py --only transform --clinics 1,10,50 $(BENCH_ARGS)

lint: $(VENV)/.synced ## ruff lint and format check
	$(VENV)/bin/ruff check flows tests bench
	$(VENV)/bin/ruff format --check flows tests bench

format: $(VENV)/.synced ## apply ruff formatting
	$(VENV)/bin/ruff format flows tests bench

clean: ## remove the demo data directory and build outputs
	rm -rf .refnet reports/build dbt_project/target dbt_project/logs
