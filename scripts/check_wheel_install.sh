#!/usr/bin/env bash
# Installs a wheel into a clean venv that reuses the torch of $PYTHON (no download: --no-index,
# torch's site-packages reached through a .pth file) and checks it imports the installed copy and
# gives the reference results. Usage: PYTHON=.venv/bin/python scripts/check_wheel_install.sh WHEEL
set -euo pipefail
PYTHON=${PYTHON:-python3}
WHEEL=$(realpath "$1")
VENV=$(mktemp -d)/venv
"$PYTHON" -m venv "$VENV"
site_of() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
site_of "$PYTHON" > "$(site_of "$VENV/bin/python")/reuse-torch.pth"
"$VENV/bin/python" -m pip install -q --no-index --no-deps "$WHEEL"
problems=$("$VENV/bin/python" -m pip check 2>&1 || true)   # its Requires-Dist (torch==X.Y.*) holds
if grep -i specbias <<<"$problems"; then echo "[wheel] pip check failed" >&2; exit 1; fi
cd "$(dirname "$VENV")"   # away from any source tree
"$VENV/bin/python" - "$VENV" <<'PY'
import sys
import torch
import specbias_ext as sb
from specbias_ext import reference
assert sb.__file__.startswith(sys.argv[1]), f"imported {sb.__file__}, not the wheel's copy"
info = sb.build_info()
gen = torch.Generator().manual_seed(0)
weights = [torch.randn(70, 3, generator=gen), torch.randn(1, 70, generator=gen)]
biases = [torch.randn(70, generator=gen), torch.randn(1, generator=gen)]
x = torch.randn(500, 3, generator=gen, dtype=torch.float64).float()
net = sb.ReluNetwork.of(weights, biases)
got = sb.activation_patterns(x, net)
assert torch.equal(got, reference.activation_patterns(x, net))
print(f"[wheel] installed {sb.__file__}: {info['compiler']}, torch {info['torch_version']}, "
      f"cuda kernels {info['cuda']}; activation_patterns == reference")
PY
rm -rf "$(dirname "$VENV")"
