# Two entry points: `make study` (the q1 study, offline) and `make test`.
# Each creates the virtual environment on first use and reuses it after.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The extras whose tests run in CI: offline W&B logging, q3, the two-node cluster.
EXTRAS ?= dev,wandb,tweets,cluster
# The exact versions the tests passed with, used as pip constraints so the same
# command installs the same environment next month; `make lock` refreshes it.
LOCK := requirements/lock.txt
# Held by `make lock`: the release whose CPU build make and CI test and whose CUDA
# build the GPU nodes install (docs/cluster.md).
TORCH := 2.13.0
comma := ,

.PHONY: study test test-cluster test-all lint lock clean cluster-files

$(STAMP): pyproject.toml $(LOCK)
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -c $(LOCK) pip
	# torch on its own first, as the cluster nodes do: here the CPU build of the
	# locked release (unpinned, pip would pull a multi-GB CUDA build).
	$(PY) -m pip install -q -c $(LOCK) torch==$(TORCH)
	$(PY) -m pip install -q -c $(LOCK) -e ".[$(EXTRAS)]"
	touch $(STAMP)

study: $(STAMP)
	$(PY) studies/q1.py $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(ARGS)

# Slow: fault tolerance (the driver killed at random moments, then --resume),
# Optuna storage (SQLite, and a PostgreSQL server the test starts), a real
# two-node Ray on 127.0.0.1, the cluster launcher (`ray up` ... `ray down`
# on cluster/local.yaml over SSH, a head and a GPU worker in network
# namespaces the test makes), an autoscaling cluster grown from zero GPU workers (Ray's fake
# multi-node provider), results on an S3 server the test starts (moto's), and two studies at
# once on one two-node Ray.
test-cluster: $(STAMP)
	$(PY) -m pytest -m slow tests/test_fault_tolerance.py tests/test_optuna_storage.py tests/test_postgres.py \
		tests/test_cluster_multinode.py tests/test_cluster_launcher.py tests/test_cluster_launcher_s3.py \
		tests/test_cluster_autoscaling.py tests/test_object_storage.py tests/test_two_studies.py $(ARGS)

test-all: $(STAMP)
	$(PY) -m pytest $(ARGS)

# What the nodes of cluster/gpu.yaml install (its file_mounts): the project's sources, nothing else.
# Run before `ray up`; the launcher sets a node up again only when these files change.
CLUSTER_FILES ?= build/cluster
cluster-files:
	rm -rf $(CLUSTER_FILES)
	mkdir -p $(CLUSTER_FILES)
	cp -r pyproject.toml README.md requirements trainables studies analysis $(CLUSTER_FILES)/
	find $(CLUSTER_FILES) -name __pycache__ -prune -exec rm -rf {} +

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Refresh the lock: every package to the newest release pyproject.toml allows,
# torch held at $(TORCH). Then `make test` installs it and checks it; commit the
# lock. LOCK_ARGS= only reconciles the lock with an edited pyproject.toml,
# keeping the other pins; LOCK_ARGS="-P ray" moves one package.
LOCK_ARGS ?= --upgrade
lock: $(STAMP)
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet pyproject.toml \
		$(foreach extra,$(subst $(comma), ,$(EXTRAS)),--extra $(extra)) \
		--strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		$(LOCK_ARGS) --upgrade-package torch==$(TORCH) --output-file $(LOCK)
	# The resolver writes the CPU wheel's local label (2.13.0+cpu); the bare
	# release lets GPU nodes keep that release's CUDA build under the same lock.
	sed -i -E 's/^(torch==[^+[:space:]]+)\+[[:alnum:].]+/\1/' $(LOCK)

clean:
	rm -rf $(VENV) .pytest_cache
