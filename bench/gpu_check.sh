#!/usr/bin/env bash
# The GPU check, made for one short device window: diagnosis and CUDA tests first, benchmarks
# next, `reproduce` last; each probe, test file and benchmark file in its own process (a crash
# loses only itself and gets a native backtrace); a global deadline; and after every step the
# logs are packed into $OUT, so a run killed at any point still returns what it did.
#
#   OUT=/tmp/out bash bench/gpu_check.sh                     # everything, within BUDGET_S
#   STEPS="fingerprint build probes tests" bash bench/gpu_check.sh     # the first command
#   STEPS="bench reproduce" bash bench/gpu_check.sh          # the second (reuses the build)
#   GPU_CHECK_DRY=1 bash bench/gpu_check.sh                  # on a CPU machine: the script's own
#       logic (no nvidia-smi, no rebuild, CUDA tests collected and skipped, bench/reproduce tiny)
#
# Steps: fingerprint build probes tests cputests bench reproduce (cputests: every test that does
# not need CUDA, one process per file; off by default). Environment: PYTHON, OUT, STEPS,
# BUDGET_S (global deadline, default 560 s), TEST_TIMEOUT (per test file, 150 s), BENCH_FILES,
# BENCH_TIMEOUT (per benchmark file, 120 s), BENCH_ARGS (extra pytest arguments), PROBES (the
# probes of bench/gpu_probes.py to run; `crash` rehearses the backtrace path), MAX_JOBS.
#
# What comes back (at most 8 files in $OUT): steps.txt (one line per step: rc, seconds),
# fingerprint.txt (toolchain and runtime), backtraces.txt (native backtraces of crashes),
# bench.txt (one line per benchmark: min time, ratios, peak memory), reproduce_summary.md,
# reproduce_claims.json, logs.tar.gz (every log and benchmark JSON). Exit code: failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
PY=${PYTHON:-python3}
DRY=${GPU_CHECK_DRY:-0}
STEPS=${STEPS:-"fingerprint build probes tests bench reproduce"}
DEADLINE=$(( $(date +%s) + ${BUDGET_S:-560} ))
WORK=$(mktemp -d)
mkdir -p "$OUT" "$WORK/logs"
export PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1 MAX_JOBS=${MAX_JOBS:-16}
if [ "$DRY" = 1 ]; then DEVICE=cpu; export SPECBIAS_CUDA=${SPECBIAS_CUDA:-0}; else DEVICE=cuda; export SPECBIAS_CUDA=1; fi
: > "$OUT/steps.txt"; : > "$OUT/backtraces.txt"
failed=0

pack() {  # the logs travel as one archive: $OUT never holds more than 8 files
  tar czf "$OUT/logs.tar.gz.tmp" -C "$WORK" logs && mv "$OUT/logs.tar.gz.tmp" "$OUT/logs.tar.gz"
}

wanted() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

backtrace() {  # backtrace NAME COMMAND...: rerun a crashed command under gdb (cuda-gdb if no gdb)
  local name=$1; shift
  local dbg
  dbg=$(command -v gdb || command -v cuda-gdb || true)
  if [ -z "$dbg" ]; then echo "== $name: no gdb/cuda-gdb for a native backtrace" >> "$OUT/backtraces.txt"; return; fi
  local left=$(( DEADLINE - $(date +%s) ))
  [ "$left" -gt 30 ] || { echo "== $name: no time left for a backtrace" >> "$OUT/backtraces.txt"; return; }
  { echo "== $name: $dbg backtrace of: $*"
    timeout $(( left < 120 ? left : 120 )) "$dbg" -q -batch -iex "set auto-load safe-path /" -ex "set pagination off" \
      -ex "set print thread-events off" -ex run -ex "bt 40" -ex "info sharedlibrary" --args "$@" 2>&1 |
      grep -v -e '^\[New Thread' -e '^\[Thread' | tail -n 150
  } >> "$OUT/backtraces.txt"
}

run() {  # run NAME LIMIT_S COMMAND...: log to logs/NAME.log, one line in steps.txt, pack
  local name=$1 limit=$2; shift 2
  local left=$(( DEADLINE - $(date +%s) ))
  if [ "$left" -lt 15 ]; then
    echo "$name skipped (global deadline)" | tee -a "$OUT/steps.txt"; return 0
  fi
  [ "$limit" -le "$left" ] || limit=$left
  local t0=$(date +%s)
  timeout "$limit" "$@" > "$WORK/logs/$name.log" 2>&1
  local rc=$?
  local note=""
  case $rc in
    0) ;;
    124) note=" TIMEOUT" ;;
    134|135|136|139) note=" CRASH(signal $((rc - 128)))" ;;
    5) note=" (no tests selected)"; rc=0 ;;  # pytest: nothing matched the marker in this file
  esac
  echo "$name rc=$rc seconds=$(( $(date +%s) - t0 ))$note" | tee -a "$OUT/steps.txt"
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    case $rc in 134|135|136|139) backtrace "$name" "$@" ;; esac
  fi
  pack
  return 0
}

# ---- 1. fingerprint: compiler, CUDA, torch, the libstdc++ the process maps ----
fingerprint() {
  { echo "# date: $(date -u +%FT%TZ)  host: $(hostname)  dry: $DRY"
    [ "$DRY" = 1 ] || nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv
    echo "# g++: $(g++ --version 2>&1 | head -1)"; echo "# c++: $(c++ --version 2>&1 | head -1)"
    echo "# CXX=${CXX:-} CC=${CC:-} CUDA_HOME=${CUDA_HOME:-}"
    echo "# nvcc: $(nvcc --version 2>&1 | tail -2 | tr '\n' ' ')"
    echo "# LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    echo "# LD_PRELOAD=${LD_PRELOAD:-}"
    echo "# python: $("$PY" -VV 2>&1)"
    echo "# toolchain check (buildtools/toolchain.py):"; "$PY" buildtools/toolchain.py --json 2>&1
    echo "# torch.__config__.show():"
    "$PY" -c "import torch; print(torch.__version__, 'cuda', torch.version.cuda, 'cxx11abi', torch._C._GLIBCXX_USE_CXX11_ABI, torch.compiled_with_cxx11_abi()); print(torch.__config__.show())" 2>&1
  } > "$OUT/fingerprint.txt"
}

runtime_fingerprint() {  # after the build: how _C links and binds at run time
  local so
  so=$(ls specbias_ext/_C*.so 2>/dev/null | head -1)
  { echo "# _C: ${so:-none} ($(stat -c %s "$so" 2>/dev/null) bytes, built $(stat -c %y "$so" 2>/dev/null))"
    [ -n "$so" ] && { echo "# ldd $so:"; ldd "$so" 2>&1; }
    [ -n "$so" ] && { echo "# GLIBCXX versions $so needs:"; strings "$so" | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tr '\n' ' '; echo; }
    echo "# libraries mapped after import (libstdc++, libgomp, libc10, _C):"
    "$PY" -c "
import specbias_ext
for line in open('/proc/self/maps'):
    p = line.split()[-1]
    if any(k in p for k in ('libstdc++', 'libgomp', 'libc10.so', '_C', 'specbias')): print(p)
" 2>&1 | sort -u
    echo "# LD_DEBUG=bindings, ostringstream / num_put symbols bound for our library:"
    LD_DEBUG=bindings "$PY" -c "import specbias_ext; specbias_ext.build_info()" 2>&1 |
      grep -E "ostringstream|num_put|basic_ostream|_M_insert" | grep -E "_C\.|specbias" | head -n 60
  } >> "$OUT/fingerprint.txt" 2>&1
}

if wanted fingerprint; then fingerprint; echo "fingerprint done" >> "$OUT/steps.txt"; pack; fi

# ---- 2. a forced clean build (a stale _C was one suspect) ----
if wanted build; then
  if [ "$DRY" = 1 ] && [ "${FORCE_BUILD:-0}" != 1 ]; then
    echo "build skipped (dry run: the existing in-place build is used)" | tee -a "$OUT/steps.txt"
  else
    rm -rf build/ specbias_ext/_C*.so
    run build 420 env "$PY" setup.py build_ext --inplace
  fi
fi
if wanted fingerprint || wanted build; then runtime_fingerprint; pack; fi

# ---- 3. probes: each suspect path and its control, one process each ----
if wanted probes; then
  probes="import build_info torch_int_message int_message_cpu"
  [ "$DRY" = 1 ] || probes="$probes string_message_cuda int_message_cuda ops_cuda"
  for probe in ${PROBES:-$probes}; do run "probe_$probe" 60 "$PY" bench/gpu_probes.py "$probe"; done
fi

# ---- 4. tests: every test marked `cuda`, one pytest process per file ----
test_files_with() {  # files that have tests marked cuda (requires_cuda or pytest.mark.cuda)
  find python_tests -name 'test_*.py' | sort | xargs grep -l -E "import requires_cuda|mark\.cuda\b"
}
if wanted tests; then
  for f in $(test_files_with); do
    run "test_cuda_$(basename "$f" .py)" "${TEST_TIMEOUT:-150}" "$PY" -m pytest "$f" -m cuda -q \
      -p no:cacheprovider -rfEs
  done
fi
if wanted cputests; then
  for f in $(find python_tests -name 'test_*.py' | sort); do
    run "test_$(basename "$f" .py)" "${TEST_TIMEOUT:-150}" "$PY" -m pytest "$f" -m "not cuda" -q \
      -p no:cacheprovider -rfE
  done
fi

# ---- 5. benchmarks: one process and one JSON per file ----
if wanted bench; then
  : > "$OUT/bench.txt"
  default_bench="bench/bench_region_ops.py bench/bench_grad_ops.py bench/bench_geometry.py bench/bench_complexity.py bench/bench_monitor.py bench/bench_reproduce.py"
  [ "$DRY" = 1 ] && default_bench=""
  for bench_file in ${BENCH_FILES:-$default_bench}; do
    name=$(basename "$bench_file" .py)
    run "$name" "${BENCH_TIMEOUT:-120}" "$PY" -m pytest "$bench_file" -q --device "$DEVICE" \
      -p no:cacheprovider --benchmark-json "$WORK/logs/$name.json" --benchmark-columns=min,mean,rounds \
      ${BENCH_ARGS:-}
    [ -s "$WORK/logs/$name.json" ] && "$PY" - "$WORK/logs/$name.json" >> "$OUT/bench.txt" 2>&1 <<'PY'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    print(b["name"], f"min={b['stats']['min'] * 1e3:.3f}ms", json.dumps(b.get("extra_info", {})))
PY
  done
fi

# ---- 6. reproduce, last ----
if wanted reproduce; then
  if [ "$DRY" = 1 ]; then repro_args=(hamming-1d --preset smoke --device cpu --seeds 1)
  else repro_args=(regions-2d --preset paper --device cuda --seeds 1); fi
  run reproduce 420 "$PY" -m specbias_ext reproduce "${repro_args[@]}" --out "$WORK/reproduce"
  cp "$WORK/reproduce/claims.json" "$OUT/reproduce_claims.json" 2>/dev/null
  cp "$WORK/reproduce/summary.md" "$OUT/reproduce_summary.md" 2>/dev/null
fi

echo "failed steps: $failed" | tee -a "$OUT/steps.txt"
pack
rm -rf "$WORK"
exit $failed
