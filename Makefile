# One command surface; CI (.ci/run) calls these targets verbatim.
UV ?= uv
PYTEST_ARGS ?=

.PHONY: sync fmt lint typecheck imports tree deps test test-integration test-e2e bench check

sync:  ## install every member and the dev tools into .venv
	$(UV) sync --frozen --all-packages

fmt:  ## rewrite code into shape
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

lint: tree deps imports typecheck  ## every static gate
	$(UV) lock --check
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck:
	$(UV) run mypy

imports:
	$(UV) run lint-imports

tree:  ## member layout and module sizes
	$(UV) run python scripts/check_tree.py

deps:  ## each member imports with only its declared dependencies
	$(UV) run --isolated --frozen --no-dev --package deis-shared python scripts/import_all.py deis_shared
	$(UV) run --isolated --frozen --no-dev --package deis-testing python scripts/import_all.py deis_testing
	$(UV) run --isolated --frozen --no-dev --package deis-controller python scripts/import_all.py deis_controller
	$(UV) run --isolated --frozen --no-dev --package deis-builder python scripts/import_all.py deis_builder
	$(UV) run --isolated --frozen --no-dev --package deis-scheduler python scripts/import_all.py deis_scheduler
	$(UV) run --isolated --frozen --no-dev --package deis-router-agent python scripts/import_all.py deis_router_agent
	$(UV) run --isolated --frozen --no-dev --package deis-logger python scripts/import_all.py deis_logger
	$(UV) run --isolated --frozen --no-dev --package deis-slugrunner python scripts/import_all.py deis_slugrunner
	$(UV) run --isolated --frozen --no-dev --package deis-cli python scripts/import_all.py deis_cli
	$(UV) run --isolated --frozen --no-dev --package deis-ctl python scripts/import_all.py deisctl

test:  ## the whole suite, end-to-end tests included, against servers it starts itself
	$(UV) run pytest --e2e $(PYTEST_ARGS)

test-integration:
	$(UV) run pytest -m integration $(PYTEST_ARGS)

test-e2e:
	$(UV) run pytest --e2e -m e2e $(PYTEST_ARGS)

bench:  ## print the benchmark figures
	$(UV) run python bench/bus.py
	$(UV) run python bench/api.py
	$(UV) run python bench/build.py
	$(UV) run python bench/scale.py
	$(UV) run python bench/logs.py
	$(UV) run python bench/router.py
	$(UV) run python -m bench.deploy
	$(UV) run python bench/kube.py
	$(UV) run python bench/sandbox.py
	$(UV) run python bench/redelivery.py
	$(UV) run python -m bench.recovery

check: lint test
