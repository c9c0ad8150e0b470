#!/usr/bin/env bash
# The wheels benchmarks/gpu_check.py needs on a GPU machine whose Python has torch, transformers, pandas,
# pyarrow and scikit-learn but nothing else of the project's, and no network: downloaded here, at the versions
# of requirements/lock.txt, into an ignored folder that travels with the working tree (64 MiB at most).
#
#   bash benchmarks/gpu_wheels.sh                  # pytest, for `pytest -m gpu`: under 2 MiB
#   bash benchmarks/gpu_wheels.sh --with-ray       # also Ray and Optuna, for the Ray study (too big today)
#   bash benchmarks/gpu_wheels.sh --python 3.11 --dest wheels
#
# On the GPU machine: python -m pip install --no-index --find-links wheels pytest pytest-timeout
# (docs/gpu.md). Exits 1, after saying so, when the wheels come to more than the limit.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON_VERSION=3.12
DEST=wheels
WITH_RAY=0
LIMIT_BYTES=$((64 * 1024 * 1024))
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTHON_VERSION="$2"; shift 2 ;;
    --dest) DEST="$2"; shift 2 ;;
    --with-ray) WITH_RAY=1; shift ;;
    *) echo "gpu_wheels.sh: unknown argument $1 (--python X.Y, --dest DIR, --with-ray)" >&2; exit 2 ;;
  esac
done
PACKAGES=(pytest pluggy iniconfig pygments pytest-timeout)
# What the studies import beyond the GPU machine's packages; Ray's wheel alone was 75.6 MiB for CPython 3.12.
RAY_PACKAGES=(ray optuna alembic sqlalchemy mako colorlog click msgpack jsonschema
              jsonschema-specifications referencing rpds-py attrs protobuf tensorboardx)
[ "$WITH_RAY" = 1 ] && PACKAGES+=("${RAY_PACKAGES[@]}")
PINNED=()
for name in "${PACKAGES[@]}"; do
  pin=$(grep -i -E "^${name}==" requirements/lock.txt || true)
  [ -n "$pin" ] || { echo "gpu_wheels.sh: $name is not in requirements/lock.txt" >&2; exit 2; }
  PINNED+=("$pin")
done
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
mkdir -p "$DEST"
# --no-deps: the GPU machine has the rest; each package's own needs are in the list above.
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --dest "$DEST" "${PINNED[@]}"
total=$(du -cb "$DEST"/*.whl | tail -1 | cut -f1)
echo "$DEST: $(ls "$DEST"/*.whl | wc -l) wheels, $((total / 1024)) KiB for Python $PYTHON_VERSION"
if [ "$total" -gt "$LIMIT_BYTES" ]; then
  echo "gpu_wheels.sh: $((total / 1024 / 1024)) MiB is over the 64 MiB that can travel with the working tree" >&2
  exit 1
fi
