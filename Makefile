# `make run`: set up .venv and run the demo study; `make test`: set up and run every test.
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed
PYTHON ?= python3
# mypy reads the tuner.* namespace from a tree of links (the folders api/, client/... are
# installed as tuner.api, tuner.client... by pyproject.toml's package-dir)
TYPES  := build/typecheck

# three test processes, a test file each at a time (a file's module-scoped servers, Ray and Spark
# sessions stay in one process): most tests wait on servers and subprocesses, so three share 2 cores
PYTEST_ARGS ?= -n 3 --dist loadfile --durations=25

.PHONY: install run test lint format clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade uv
	$(UV) pip install --quiet --python $(PY) -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/tuner run experiments/demo/study.yaml
	$(PY) -m experiments.demo.rows demo-rows.csv
	$(VENV)/bin/tuner predict breast-cancer@production --input demo-rows.csv \
		--output demo-scored.csv --id-column id
	@echo "the registry: tuner models breast-cancer (--history: who moved which alias)"
	@echo "in a process: python -c 'from tuner.embedded import load_model; \
		m = load_model(\"breast-cancer@production\", db=\"sqlite:///tuner.db\")'"
	@echo "serve it and watch studies on the web: tuner serve, then open http://127.0.0.1:8000/"

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	rm -rf $(TYPES) && mkdir -p $(TYPES)
	cp -rs $(CURDIR)/tuner $(TYPES)/tuner
	for d in api client algorithms executors; do ln -s $(CURDIR)/$$d $(TYPES)/tuner/$$d; done
	cd $(TYPES) && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml -p tuner

format: install
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) build tuner.db tuner.db-wal tuner.db-shm demo-rows.csv demo-scored.csv
