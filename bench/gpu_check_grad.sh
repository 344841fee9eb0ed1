#!/bin/bash
# One-shot GPU check of the gradient ops: CUDA build, CUDA-vs-CPU tests, CUDA benchmarks.
# Run from the project root on a machine with a GPU; logs go to $OUT (default ./gpu-out).
set -o pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:${PYTHONPATH:-}
start=$(date +%s)
SPECBIAS_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=${MAX_JOBS:-16} \
  python3 setup.py build_ext --inplace > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
timeout 150 python3 -m pytest python_tests/test_grad_api.py -q -x -k "cuda or device" -p no:cacheprovider \
  2>&1 | tee "$OUT/cuda_tests.log" | tail -25
echo "tests done: $(( $(date +%s) - start )) s"
timeout ${BENCH_TIMEOUT:-240} python3 -m pytest bench/bench_grad_ops.py --device cuda -q -s -p no:cacheprovider \
  --benchmark-json="$OUT/bench_cuda.json" --benchmark-columns=min,mean,rounds 2>&1 \
  | tee "$OUT/bench.log" | tail -30
python3 - "$OUT/bench_cuda.json" <<'PY'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    print(b["name"], {k: (round(v, 5) if isinstance(v, float) else v) for k, v in b["extra_info"].items()})
PY
echo "total: $(( $(date +%s) - start )) s"
