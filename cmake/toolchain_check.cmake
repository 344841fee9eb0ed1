# After find_package(Torch): the C++ standard of that torch (SPECBIAS_CXX_STANDARD) and a loud
# failure when the compiler cannot serve it -- the same checks as setup.py (buildtools/toolchain.py).
# SPECBIAS_SKIP_TOOLCHAIN_CHECK=ON builds anyway.
option(SPECBIAS_SKIP_TOOLCHAIN_CHECK "Build even when the toolchain check fails" OFF)

get_target_property(SPECBIAS_CXX_STANDARD torch CXX_STANDARD)
if(NOT SPECBIAS_CXX_STANDARD AND SPECBIAS_PYTHON)
  execute_process(COMMAND "${SPECBIAS_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/buildtools/toolchain.py"
                          --cxx-standard
                  OUTPUT_VARIABLE SPECBIAS_CXX_STANDARD OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _rc)
endif()
if(NOT SPECBIAS_CXX_STANDARD)
  set(SPECBIAS_CXX_STANDARD 17)
endif()

set(_problems "")
# Oldest compilers whose standard library serves torch's headers at that standard.
set(_min_gcc_17 9)
set(_min_gcc_20 10)
set(_min_gcc_23 11)
set(_min_clang_17 10)
set(_min_clang_20 12)
set(_min_clang_23 16)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(_min "${_min_gcc_${SPECBIAS_CXX_STANDARD}}")
elseif(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  set(_min "${_min_clang_${SPECBIAS_CXX_STANDARD}}")
endif()
if(_min AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS _min)
  string(APPEND _problems "\n  - ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} is too old "
         "for torch ${Torch_VERSION}, whose headers need C++${SPECBIAS_CXX_STANDARD}: use >= ${_min}.")
endif()

# The libstdc++ ABI torch uses must be the one this compiler produces with torch's flags.
# (torch's CMake config names it in TORCH_CXX_FLAGS when it is not the compiler's default; the
# Python check below compares it in every case.)
set(_torch_abi "compiler default")
string(REGEX MATCH "_GLIBCXX_USE_CXX11_ABI=([01])" _abi_flag "${TORCH_CXX_FLAGS}")
if(_abi_flag)
  set(_torch_abi "${CMAKE_MATCH_1}")
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-std=c++${SPECBIAS_CXX_STANDARD} -D_GLIBCXX_USE_CXX11_ABI=${_torch_abi}")
  check_cxx_source_compiles("
#include <string>
#if defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI != ${_torch_abi}
#error ABI
#endif
int main() { return 0; }" SPECBIAS_ABI_MATCHES_TORCH)
  unset(CMAKE_REQUIRED_FLAGS)
  if(NOT SPECBIAS_ABI_MATCHES_TORCH)
    string(APPEND _problems "\n  - ${CMAKE_CXX_COMPILER} cannot compile C++${SPECBIAS_CXX_STANDARD} "
           "with _GLIBCXX_USE_CXX11_ABI=${_torch_abi} (torch's ABI).")
  endif()
endif()

# With the Python of that torch: the libstdc++ check (build-time vs run-time libstdc++).
if(SPECBIAS_PYTHON)
  execute_process(COMMAND "${SPECBIAS_PYTHON}" "${CMAKE_CURRENT_SOURCE_DIR}/buildtools/toolchain.py"
                          --check --cxx "${CMAKE_CXX_COMPILER}"
                  RESULT_VARIABLE _rc ERROR_VARIABLE _err OUTPUT_QUIET)
  if(NOT _rc EQUAL 0)
    string(APPEND _problems "\n  - ${_err}")
  endif()
endif()

if(_problems)
  if(SPECBIAS_SKIP_TOOLCHAIN_CHECK)
    message(WARNING "toolchain check failed (SPECBIAS_SKIP_TOOLCHAIN_CHECK=ON):${_problems}")
  else()
    message(FATAL_ERROR "specbias cannot be built with this toolchain:${_problems}\n"
                        "(-DSPECBIAS_SKIP_TOOLCHAIN_CHECK=ON builds anyway.)")
  endif()
endif()
message(STATUS "specbias toolchain: ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}, "
               "C++${SPECBIAS_CXX_STANDARD} (from torch ${Torch_VERSION}), "
               "CXX11_ABI=${_torch_abi}")
