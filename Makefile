# One install path for every machine: a virtual environment in .venv.
#   make run    install, then search a recommender for ml-100k (ARGS to change it)
#   make test   install, then run the test suite
# TORCH picks the torch build: the default is the CPU-friendly pin; on a GPU machine
# install the CUDA build you want into .venv first, or pass e.g. TORCH="torch==2.13.0".
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
ARGS ?= --model=AutoCF --dataset=ml-100k
PY := $(VENV)/bin/python

.PHONY: install run test lint

$(VENV)/.installed: requirements.txt requirements-dev.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet --no-deps recbole==1.2.1
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) run_recbole_automl.py $(ARGS)

test: install
	$(PY) -m pytest tests

lint: install
	$(PY) -m ruff check recbole_automl tests benchmarks run_recbole_automl.py setup.py
	$(PY) -m black --check recbole_automl tests benchmarks run_recbole_automl.py setup.py
