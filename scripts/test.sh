#!/usr/bin/env bash
# Sets up .venv (first run: installs torch and builds the extension), then runs the test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k hamming. The files are shared among
# SPECBIAS_TEST_WORKERS processes (pytest-xdist; default: one per CPU core, at most 8; 0 runs
# them in this process), a whole file to each, so that a file's module fixtures are built once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
cores=$(nproc 2>/dev/null || echo 2)
workers=${SPECBIAS_TEST_WORKERS:-$(( cores < 8 ? cores : 8 ))}
exec "$PY" -m pytest python_tests -q -n "$workers" --dist loadfile "$@"
