#!/usr/bin/env bash
# Builds csrc/ with CMake into build-cmake/libspecbias_ops.so against the torch of $PYTHON.
# CUDA kernels when torch is a CUDA build and a toolkit is found (CUDA_HOME, else /usr/local/cuda*);
# SPECBIAS_CUDA=0|1 forces them off|on. Usage: PYTHON=.venv/bin/python scripts/build_cmake.sh [dir]
# A second argument builds another CMake project against the same torch and toolkit (the C++
# consumer test: scripts/build_cmake.sh build-consumer tests/cmake_consumer), with
# SPECBIAS_PREFIX (an installed specbias) added to CMAKE_PREFIX_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
BUILD=${1:-build-cmake}
SRC=${2:-.}
CMAKE=${CMAKE:-$(dirname "$PYTHON")/cmake}
command -v "$CMAKE" >/dev/null 2>&1 || CMAKE=cmake

torch_prefix=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')
args=(-S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DSPECBIAS_PYTHON=$PYTHON"
      "-DCMAKE_PREFIX_PATH=${SPECBIAS_PREFIX:+$SPECBIAS_PREFIX;}$torch_prefix")
torch_cuda=$("$PYTHON" -c 'import torch; print(torch.version.cuda or "")')
if [ -n "$torch_cuda" ]; then
  # A CUDA libtorch needs the toolkit found even when our CUDA kernels are off.
  cuda_home=${CUDA_HOME:-}
  if [ -z "$cuda_home" ]; then
    for cand in /usr/local/cuda /usr/local/cuda-*; do
      if [ -e "$cand/lib64/libcudart.so" ]; then cuda_home=$cand; break; fi
    done
  fi
  args+=("-DCUDA_TOOLKIT_ROOT_DIR=$cuda_home" "-DCUDAToolkit_ROOT=$cuda_home"
         "-DCMAKE_CUDA_COMPILER=$cuda_home/bin/nvcc"
         "-DTORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-8.0;9.0}")
  # The pip CUDA wheels that torch depends on: headers and nvrtc that a bare toolkit may lack.
  wheels=$("$PYTHON" -c 'import nvidia, os; print(nvidia.__path__[0])' 2>/dev/null || true)
  if [ -n "$wheels" ]; then
    includes=$(ls -d "$wheels"/*/include 2>/dev/null | tr '\n' ';')
    args+=("-DSPECBIAS_EXTRA_CUDA_INCLUDES=$includes")
    if ! ls "$cuda_home"/lib64/libnvrtc.so* >/dev/null 2>&1; then
      nvrtc=$(ls "$wheels"/*/lib/libnvrtc.so.* 2>/dev/null | grep -v -e builtins -e alt | head -1)
      [ -n "$nvrtc" ] && args+=("-DCUDA_nvrtc_LIBRARY=$nvrtc")
    fi
  fi
fi
case "${SPECBIAS_CUDA:-auto}" in
  0|off|OFF) args+=(-DSPECBIAS_CUDA=OFF) ;;
  1|on|ON) args+=(-DSPECBIAS_CUDA=ON) ;;
  *) [ -n "$torch_cuda" ] && args+=(-DSPECBIAS_CUDA=AUTO) || args+=(-DSPECBIAS_CUDA=OFF) ;;
esac
"$CMAKE" "${args[@]}"
"$CMAKE" --build "$BUILD" -j "${MAX_JOBS:-2}"
echo "built $SRC into $BUILD"
