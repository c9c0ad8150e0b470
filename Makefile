# Two entry points: `make study` (the q1 study, offline) and `make test`.
# Each creates the virtual environment on first use and reuses it after.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# wandb and tweets: the offline W&B logging and q3 tests run in CI too.
EXTRAS ?= dev,wandb,tweets

.PHONY: study test test-all lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch; an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

study: $(STAMP)
	$(PY) studies/q1.py $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(ARGS)

test-all: $(STAMP)
	$(PY) -m pytest $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
