# `make run`: set up .venv and run the demo study; `make test`: set up and run every test.
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: install run test lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade uv
	$(UV) pip install --quiet --python $(PY) -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/tuner run experiments/demo/study.yaml

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy tuner algorithms executors api client

clean:
	rm -rf $(VENV) tuner.db tuner.db-wal tuner.db-shm
