#!/usr/bin/env bash
# GPU check of the geometry ops: build with CUDA kernels, run the CUDA-vs-CPU tests and the
# geometry benchmarks on the GPU. Usage (from the project root): bash bench/gpu_check_geometry.sh [OUTDIR]
set -o pipefail
out=${1:-/tmp/geom-gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
nvidia-smi -L
MAX_JOBS=${MAX_JOBS:-16} SPECBIAS_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} \
  python3 setup.py build_ext --inplace > "$out/build.log" 2>&1 || { tail -60 "$out/build.log"; exit 1; }
python3 -c "import specbias_ext; print(specbias_ext.build_info())"
timeout 240 python3 -m pytest python_tests/test_geometry_boundary.py \
  python_tests/test_geometry_gradients.py -q -k cuda 2>&1 | tee "$out/tests.log"
timeout 300 python3 -m pytest bench/bench_geometry.py -q --device cuda \
  --benchmark-columns=min,mean,rounds --benchmark-json="$out/bench.json" 2>&1 | tail -15
python3 - "$out/bench.json" <<'PY'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    print(b["name"], f"{b['stats']['min']*1e3:.3f} ms", b["extra_info"])
PY
