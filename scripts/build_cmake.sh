#!/usr/bin/env bash
# Builds csrc/ with CMake into build-cmake/libspecbias_ops.so against the torch of $PYTHON.
# CUDA kernels when nvcc is found (CUDA_HOME, else the toolkit folder of `nvcc` on PATH) and torch
# is a CUDA build. Usage: PYTHON=.venv/bin/python scripts/build_cmake.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
BUILD=${1:-build-cmake}
CMAKE=${CMAKE:-$(dirname "$PYTHON")/cmake}
command -v "$CMAKE" >/dev/null 2>&1 || CMAKE=cmake

args=(-S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
      "-DCMAKE_PREFIX_PATH=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')")
torch_cuda=$("$PYTHON" -c 'import torch; print(torch.version.cuda or "")')
if [ -n "$torch_cuda" ] && [ "${SPECBIAS_CUDA:-auto}" != "0" ]; then
  cuda_home=${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")}
  # The pip CUDA wheels that torch depends on: headers and nvrtc that a bare toolkit may lack.
  wheels=$("$PYTHON" -c 'import nvidia, os; print(nvidia.__path__[0])' 2>/dev/null || true)
  args+=(-DSPECBIAS_CUDA=ON "-DCUDA_TOOLKIT_ROOT_DIR=$cuda_home" "-DCUDAToolkit_ROOT=$cuda_home"
         "-DCMAKE_CUDA_COMPILER=$cuda_home/bin/nvcc"
         "-DTORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-8.0;9.0}")
  if [ -n "$wheels" ]; then
    includes=$(ls -d "$wheels"/*/include 2>/dev/null | tr '\n' ';')
    args+=("-DSPECBIAS_EXTRA_CUDA_INCLUDES=$includes")
    if ! ls "$cuda_home"/lib64/libnvrtc.so* >/dev/null 2>&1; then
      nvrtc=$(ls "$wheels"/*/lib/libnvrtc.so.* 2>/dev/null | grep -v builtins | grep -v alt | head -1)
      [ -n "$nvrtc" ] && args+=("-DCUDA_nvrtc_LIBRARY=$nvrtc")
    fi
  fi
else
  args+=(-DSPECBIAS_CUDA=OFF)
fi
"$CMAKE" "${args[@]}"
"$CMAKE" --build "$BUILD" -j "${MAX_JOBS:-2}"
echo "built $BUILD/libspecbias_ops.so"
