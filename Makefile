# Two entry points: `make study` (the q1 study, offline) and `make test`.
# Each creates the virtual environment on first use and reuses it after.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The extras whose tests run in CI: offline W&B logging, q3, the two-node cluster.
EXTRAS ?= dev,wandb,tweets,cluster

.PHONY: study test test-cluster test-all lint clean

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

# Fault tolerance, a real two-node Ray cluster on 127.0.0.1, and the cluster
# launcher (`ray up` ... `ray down` on cluster/local.yaml) over SSH to 127.0.0.1 (slow).
test-cluster: $(STAMP)
	$(PY) -m pytest -m slow tests/test_fault_tolerance.py tests/test_cluster_multinode.py \
		tests/test_cluster_launcher.py \
		--deselect tests/test_fault_tolerance.py::test_sigkill_driver_then_resume_loses_nothing $(ARGS)

test-all: $(STAMP)
	$(PY) -m pytest $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
