#!/usr/bin/env bash
# The GPU check: on a machine with a CUDA GPU (and torch, nvcc, pytest, pytest-benchmark, ninja),
# build the extension for the visible GPU, run the CUDA tests and the GPU benchmarks, and write
# logs and JSON to $OUT (default ./gpu-check-out). Each step runs even if an earlier one failed;
# the exit code is the number of failed steps. Time budget: about 8 minutes on an H100.
#   OUT=/tmp/out bash bench/gpu_check.sh            # everything
#   STEPS="build tests" bash bench/gpu_check.sh     # a subset (steps: build tests bench reproduce)
#   BENCH_FILES="bench/bench_grad_ops.py" BENCH_TIMEOUT=60 bash bench/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
PY=${PYTHON:-python3}
STEPS=${STEPS:-"build tests bench reproduce"}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 SPECBIAS_CUDA=1 MAX_JOBS=${MAX_JOBS:-16}
failed=0

step() {  # step NAME TIMEOUT_S COMMAND...: run, log to $OUT/NAME.log, record time and status
  local name=$1 limit=$2; shift 2
  local group=$name
  case $name in bench_*) group=bench ;; esac
  case " $STEPS " in *" $group "*) ;; *) return 0 ;; esac
  local t0=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc seconds=$(( $(date +%s) - t0 ))" | tee -a "$OUT/steps.txt"
  [ $rc -eq 0 ] || failed=$((failed + 1))
}

# At most 8 files come back from the device machine: steps.txt holds the device and build info.
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/steps.txt" 2>&1
step build 300 "$PY" setup.py build_ext --inplace
"$PY" -c "import json, specbias_ext; print(json.dumps(specbias_ext.build_info()))" \
  >> "$OUT/steps.txt" 2>&1
# The CUDA tests: every test with cuda in its name (the CUDA-vs-CPU comparisons).
step tests 300 "$PY" -m pytest python_tests -q -k "cuda" -p no:cacheprovider
for bench_file in ${BENCH_FILES:-bench/bench_*.py}; do  # one JSON per file, so a slow file loses only itself
  name=$(basename "$bench_file" .py)
  step "$name" "${BENCH_TIMEOUT:-120}" "$PY" -m pytest "$bench_file" -q --device cuda \
    -p no:cacheprovider --benchmark-json "$OUT/$name.json" --benchmark-columns=min,mean,rounds
done
step reproduce 300 "$PY" -m specbias_ext reproduce regions-2d --preset paper --device cuda \
  --seeds 1 --out "$OUT/reproduce"
# Keep only what comes back (at most 8 files, two folders down): the report and claims.
if [ -d "$OUT/reproduce" ]; then
  cp "$OUT/reproduce/claims.json" "$OUT/reproduce_claims.json" 2>/dev/null
  cp "$OUT/reproduce/summary.md" "$OUT/reproduce_summary.md" 2>/dev/null
  rm -rf "$OUT/reproduce"
fi
# The ratios and peak memory every benchmark stored, one line each, for the issue notes.
for json_file in "$OUT"/bench_*.json; do
  [ -e "$json_file" ] || continue
  "$PY" - "$json_file" >> "$OUT/steps.txt" 2>&1 <<'PY'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    print(b["name"], f"min={b['stats']['min'] * 1e3:.3f}ms", json.dumps(b["extra_info"]))
PY
done
echo "failed steps: $failed" | tee -a "$OUT/steps.txt"
# At most 8 files come back: the logs travel as one archive beside steps.txt and the JSON files.
(cd "$OUT" && tar czf logs.tar.gz ./*.log && rm -f ./*.log)
exit $failed
