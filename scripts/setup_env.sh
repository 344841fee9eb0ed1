#!/usr/bin/env bash
# Creates (once) the virtual environment .venv, installs the dependencies and builds specbias_ext
# into it (incremental: ninja rebuilds only what changed). Sourced by reproduce.sh and test.sh.
#
# Environment: PYTHON (interpreter for the venv, default python3), VENV (default .venv),
# CUDA_HOME (CUDA toolkit; found automatically when it holds lib64/libcudart.so),
# SPECBIAS_CUDA=auto|0|1 and TORCH_CUDA_ARCH_LIST (see setup.py).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV=${VENV:-$ROOT/.venv}
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
  echo "[setup] creating $VENV" >&2
  "${PYTHON:-python3}" -m venv "$VENV"
fi
if ! "$PY" -c "import torch, numpy, matplotlib, tqdm, skimage, hypothesis, pytest, xdist, pytest_benchmark, ninja, cmake, setuptools" >/dev/null 2>&1; then
  echo "[setup] installing dependencies (torch is several GB the first time)" >&2
  "$PY" -m pip install -q --upgrade pip setuptools wheel
  "$PY" -m pip install -q torch
  "$PY" -m pip install -q -r "$ROOT/requirements-dev.txt"
fi

# Find the CUDA toolkit: the folder holding lib64/libcudart.so (a wrapper nvcc on PATH can make
# torch guess it wrong).
if [ -z "${CUDA_HOME:-}" ]; then
  for cand in /usr/local/cuda /usr/local/cuda-*; do
    if [ -e "$cand/lib64/libcudart.so" ] && [ -x "$cand/bin/nvcc" ]; then CUDA_HOME=$cand; break; fi
  done
fi
if [ -n "${CUDA_HOME:-}" ]; then export CUDA_HOME; fi

# Skip the build when the in-place extension is newer than every source and imports (an editable
# pip install rebuilds from scratch, which costs minutes for the CUDA kernels).
so=$(ls "$ROOT"/specbias_ext/_C*.so 2>/dev/null | head -1 || true)
up_to_date=0
if [ -n "$so" ] && [ -z "$(find "$ROOT/csrc" "$ROOT/setup.py" -newer "$so" -print -quit)" ] &&
   "$PY" -c "import specbias_ext" >/dev/null 2>&1; then
  up_to_date=1
  if [ "${SPECBIAS_CUDA:-auto}" = "1" ] &&
     ! "$PY" -c "import specbias_ext, sys; sys.exit(not specbias_ext.build_info()['cuda'])"; then
    up_to_date=0
  fi
fi
if [ "$up_to_date" = 1 ]; then
  echo "[setup] specbias_ext is up to date ($so)" >&2
else
  echo "[setup] building specbias_ext (CUDA_HOME=${CUDA_HOME:-none})" >&2
  (cd "$ROOT" && MAX_JOBS=${MAX_JOBS:-2} "$PY" -m pip install -q --no-build-isolation --no-deps -e . )
fi
"$PY" -c "import specbias_ext; print('[setup] build_info:', specbias_ext.build_info())" >&2
