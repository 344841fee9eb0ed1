#!/usr/bin/env bash
# Sets up .venv (first run: installs torch and builds the extension), then runs the test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k hamming
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
exec "$PY" -m pytest python_tests -q "$@"
