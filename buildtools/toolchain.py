"""Can this C++ compiler, and the libstdc++ the extension will run against, serve the installed torch?

Used before every build (setup.py, CMakeLists.txt) so that a mismatch fails at build time with a
message instead of crashing or failing to load later. As a script:

    python buildtools/toolchain.py [--cxx COMPILER] [--check] [--json] [--cxx-standard]

--check exits 1 (with the problems on stderr) when the toolchain cannot serve torch;
--cxx-standard prints only the C++ standard torch was built with (e.g. 20);
--json prints the whole fingerprint.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

# Oldest compilers with the C++ standard library features torch's headers use at each standard.
MIN_GCC = {17: 9, 20: 10, 23: 11}
MIN_CLANG = {17: 10, 20: 12, 23: 16}
_STD_OF_YEAR = {1997: 98, 2011: 11, 2014: 14, 2017: 17, 2020: 20, 2023: 23}
_COMPILER_WRAPPERS = {"ccache", "sccache", "distcc"}


def compiler_command(cxx: str | None = None) -> list[str]:
    """The compiler a build uses, as torch.utils.cpp_extension picks it ($CXX, else c++)."""
    return shlex.split(cxx or os.environ.get("CXX") or "c++")


def _real_compiler(cmd: list[str]) -> list[str]:
    rest = list(cmd)
    while len(rest) > 1 and os.path.basename(rest[0]) in _COMPILER_WRAPPERS:
        rest = rest[1:]
    return rest


def _glibcxx_levels(path: str) -> tuple[int, ...]:
    """Highest GLIBCXX_3.4.N version string in a binary (what it defines or needs), as (3, 4, N)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ()
    found = [tuple(int(p) for p in m.decode().split("."))
             for m in set(re.findall(rb"GLIBCXX_(\d+\.\d+(?:\.\d+)?)", data))]
    return max(found) if found else ()


def _level_str(level: tuple[int, ...]) -> str:
    return "GLIBCXX_" + ".".join(map(str, level)) if level else "unknown"


def loaded_libstdcxx() -> str | None:
    """The libstdc++ this process maps (after importing torch: the one the extension will use)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "libstdc++.so" in os.path.basename(path):
                    return path
    except OSError:
        pass
    return None


def torch_facts() -> dict:
    """What the installed torch was built with: compiler, C++ standard, libstdc++ ABI."""
    import torch

    config = torch.__config__.show()
    std = 17
    m = re.search(r"C\+\+ Version: (\d{4})(\d\d)", config)
    if m:
        std = _STD_OF_YEAR.get(int(m.group(1)), std)
    compiler = re.search(r"^\s*-\s*(GCC|clang)\s+([\d.]+)", config, re.M)
    return {
        "torch_version": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "torch_compiler": " ".join(compiler.groups()) if compiler else "unknown",
        "cxx_standard": std,
        "cxx11_abi": int(bool(torch._C._GLIBCXX_USE_CXX11_ABI)),
        "runtime_libstdcxx": loaded_libstdcxx(),
    }


def _run(cmd: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)


def compiler_facts(cmd: list[str], std: int, abi: int) -> dict:
    """Version, the standard it accepts, and the libstdc++ it compiles and links against."""
    real = _real_compiler(cmd)
    facts: dict = {"cxx": " ".join(cmd)}
    try:
        version = _run(real + ["--version"])
    except OSError as exc:
        facts["error"] = f"cannot run the C++ compiler {real[0]!r}: {exc}"
        return facts
    facts["cxx_version"] = (version.stdout.splitlines() or ["?"])[0]
    probe = _run(real + [f"-std=c++{std}", f"-D_GLIBCXX_USE_CXX11_ABI={abi}", "-dM", "-E",
                         "-x", "c++", "-"], "#include <string>\n")
    if probe.returncode != 0:
        facts["error"] = (f"{real[0]} does not accept -std=c++{std}:\n" + probe.stderr.strip())
        return facts
    macros = dict(re.findall(r"^#define (\w+) (.*)$", probe.stdout, re.M))
    facts["cplusplus"] = macros.get("__cplusplus", "?")
    facts["macro_cxx11_abi"] = macros.get("_GLIBCXX_USE_CXX11_ABI")
    facts["glibcxx_date"] = macros.get("__GLIBCXX__")
    if "__clang__" in macros:
        facts["family"], facts["major"] = "clang", int(macros["__clang_major__"])
    elif "__GNUC__" in macros:
        facts["family"], facts["major"] = "gcc", int(macros["__GNUC__"])
    lib = _run(real + ["-print-file-name=libstdc++.so.6"]).stdout.strip()
    facts["compiler_libstdcxx"] = os.path.realpath(lib) if os.path.isabs(lib) else None
    return facts


def fingerprint(cxx: str | None = None) -> dict:
    t = torch_facts()
    c = compiler_facts(compiler_command(cxx), t["cxx_standard"], t["cxx11_abi"])
    fp = {**t, **c}
    fp["compiler_glibcxx"] = _level_str(_glibcxx_levels(c.get("compiler_libstdcxx") or ""))
    fp["runtime_glibcxx"] = _level_str(_glibcxx_levels(t["runtime_libstdcxx"] or ""))
    return fp


def problems(fp: dict) -> list[str]:
    """Why this toolchain cannot build an extension that loads and runs with this torch ([] if it can)."""
    found = []
    std = fp["cxx_standard"]
    if "error" in fp:
        return [fp["error"] + f"\n(torch {fp['torch_version']} needs C++{std}.)"]
    family, major = fp.get("family"), fp.get("major", 0)
    minimum = (MIN_GCC if family == "gcc" else MIN_CLANG).get(std)
    if family in ("gcc", "clang") and minimum and major < minimum:
        found.append(f"{fp['cxx_version']} is too old for torch {fp['torch_version']}, whose headers "
                     f"need C++{std}: use {family} >= {minimum} (set CXX).")
    if fp["macro_cxx11_abi"] is not None and fp["macro_cxx11_abi"].strip() != str(fp["cxx11_abi"]):
        found.append(f"{fp['cxx_version']} forces _GLIBCXX_USE_CXX11_ABI={fp['macro_cxx11_abi']}, but "
                     f"torch {fp['torch_version']} uses _GLIBCXX_USE_CXX11_ABI={fp['cxx11_abi']}: every "
                     "std::string in an op signature would mismatch. Use a compiler whose libstdc++ "
                     "supports the torch ABI (not a devtoolset that forces the old one).")
    need = _glibcxx_levels(fp.get("compiler_libstdcxx") or "")
    have = _glibcxx_levels(fp.get("runtime_libstdcxx") or "")
    if need and have and need > have:
        found.append(f"{fp['cxx_version']} compiles against {fp['compiler_libstdcxx']} "
                     f"({_level_str(need)}), but this Python runs with {fp['runtime_libstdcxx']} "
                     f"({_level_str(have)}): the extension would need symbols the loaded libstdc++ "
                     "lacks. Use the compiler that belongs to this environment's libstdc++ (e.g. "
                     "conda's gxx), or put the newer libstdc++ first (LD_LIBRARY_PATH).")
    return found


def check_or_exit(cxx: str | None = None, stream=sys.stderr) -> dict:
    """Fingerprint the toolchain; exit with the problems unless SPECBIAS_SKIP_TOOLCHAIN_CHECK=1."""
    fp = fingerprint(cxx)
    found = problems(fp)
    print(f"[specbias] toolchain: {fp.get('cxx_version', fp['cxx'])}, C++{fp['cxx_standard']}, "
          f"CXX11_ABI={fp['cxx11_abi']}, libstdc++ build {fp['compiler_glibcxx']} / run "
          f"{fp['runtime_glibcxx']}; torch {fp['torch_version']} ({fp['torch_compiler']})",
          file=stream)
    if found and os.environ.get("SPECBIAS_SKIP_TOOLCHAIN_CHECK") != "1":
        raise SystemExit("specbias_ext cannot be built with this toolchain:\n  - "
                         + "\n  - ".join(found)
                         + "\n(SPECBIAS_SKIP_TOOLCHAIN_CHECK=1 builds anyway.)")
    return fp


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cxx", help="the C++ compiler (default: $CXX, else c++)")
    parser.add_argument("--check", action="store_true", help="exit 1 when it cannot serve torch")
    parser.add_argument("--json", action="store_true", help="print the fingerprint as JSON")
    parser.add_argument("--cxx-standard", action="store_true",
                        help="print only the C++ standard torch was built with")
    args = parser.parse_args(argv)
    if args.cxx_standard:
        print(torch_facts()["cxx_standard"])
        return 0
    fp = fingerprint(args.cxx)
    found = problems(fp)
    if args.json:
        print(json.dumps({**fp, "problems": found}, indent=1))
    if args.check and found and os.environ.get("SPECBIAS_SKIP_TOOLCHAIN_CHECK") != "1":
        print("specbias_ext cannot be built with this toolchain:\n  - " + "\n  - ".join(found),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
