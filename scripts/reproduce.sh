#!/usr/bin/env bash
# Sets up .venv (first run: installs torch and builds the extension), then reproduces the paper's
# experiments: `specbias reproduce --preset quick --device cpu --out specbias-results` by default.
# Arguments replace the defaults, e.g. scripts/reproduce.sh hamming-1d --preset paper
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
if [ "$#" -eq 0 ]; then set -- --preset quick --device cpu --out specbias-results; fi
exec "$PY" -m specbias_ext reproduce "$@"
