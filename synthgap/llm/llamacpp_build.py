"""How synthgap builds llama-cpp-python: one portable x86-64 instruction set, never a reused wheel.

llama.cpp's default build (`GGML_NATIVE=ON`) compiles for the build machine's CPU: on a VM that
advertises AVX-512 or AMX, the library then holds instructions the next machine (or the guest
itself) cannot run, and dies with "Illegal instruction". pip's wheel cache makes it worse: it
keys a built wheel on the version only, so a wheel built natively elsewhere is reused silently.

The portable set is x86-64-v3 as ggml names it: SSE4.2, AVX, AVX2, FMA, F16C and BMI2 (every
Intel CPU since Haswell, 2013, and every AMD CPU since Zen, 2017). AVX-VNNI, AVX-512 and AMX are
off: they are exactly the extensions a VM may advertise and not allow, and llama.cpp's runtime
variant dispatch (`GGML_CPU_ALL_VARIANTS`) picks a variant from what cpuid advertises, which is
the failure we are avoiding. `bench_llm.py` measures what this costs against a native build.

Stdlib only: the Makefile runs this file with the system Python before synthgap is installed
(`python synthgap/llm/llamacpp_build.py --python .venv/bin/python`); after installing,
`python -m synthgap.llm.llamacpp_build` does the same.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
from typing import Optional, Sequence

LLAMA_CPP_VERSION = "0.3.36"
# ggml's CMake switches, on and off, for the portable build (GGML_<name>).
PORTABLE_ON = ("SSE42", "AVX", "AVX2", "FMA", "F16C", "BMI2")
PORTABLE_OFF = ("AVX_VNNI", "AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AMX_TILE", "AMX_INT8", "AMX_BF16")
# Not part of the instruction set, but of what is built: one CPU backend linked in (no runtime
# variant dispatch), and no multimodal library (synthgap sends text only; it halves the build).
COMMON = ("-DGGML_BACKEND_DL=OFF", "-DGGML_CPU_ALL_VARIANTS=OFF", "-DLLAVA_BUILD=OFF")
REBUILD_HINT = "make llama-rebuild (outside a checkout: python -m synthgap.llm.llamacpp_build)"


def is_x86_64(machine: Optional[str] = None) -> bool:
    return (machine or platform.machine()).lower() in ("x86_64", "amd64")


def cmake_args(native: bool = False, machine: Optional[str] = None) -> list[str]:
    """The CMake arguments of a build: portable (the default) or native (only to measure the difference)."""
    if native:
        return ["-DGGML_NATIVE=ON", *COMMON]
    if not is_x86_64(machine):  # other architectures: ggml's own baseline without -march=native
        return ["-DGGML_NATIVE=OFF", *COMMON]
    return ["-DGGML_NATIVE=OFF", *COMMON, *(f"-DGGML_{name}=ON" for name in PORTABLE_ON),
            *(f"-DGGML_{name}=OFF" for name in PORTABLE_OFF)]


def build_id(native: bool = False) -> str:
    """12 hex digits naming a build (version and CMake arguments); the Makefile's stamp carries it."""
    text = " ".join([LLAMA_CPP_VERSION, *cmake_args(native)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def pip_commands(python: str, native: bool = False, target: Optional[str] = None) -> list[list[str]]:
    """The pip commands of a build.

    The first builds llama-cpp-python from source with no pip cache at all (`--no-cache-dir`:
    nothing built for another CPU can come in, nothing built here goes out) and installs it alone;
    the second adds its dependencies and the server extra, which then finds it installed and
    builds nothing. With `target`, the package goes into that folder only (the native build
    that bench_llm.py compares against), without dependencies.
    """
    spec = f"llama-cpp-python=={LLAMA_CPP_VERSION}"
    build = [python, "-m", "pip", "install", "--quiet", "--no-cache-dir", "--no-binary", "llama-cpp-python",
             "--force-reinstall", "--no-deps"]
    if target:
        return [build + ["--upgrade", "--target", target, spec]]
    return [build + [spec], [python, "-m", "pip", "install", "--quiet", f"llama-cpp-python[server]=={LLAMA_CPP_VERSION}"]]


def build_env(native: bool = False, base: Optional[dict] = None) -> dict:
    env = dict(os.environ if base is None else base)
    env["CMAKE_ARGS"] = " ".join(cmake_args(native))
    env["FORCE_CMAKE"] = "1"
    env.pop("PIP_FIND_LINKS", None)  # a local folder of wheels could hold a natively built one
    return env


def install(python: str, native: bool = False, target: Optional[str] = None, log=print) -> int:
    """Build and install; returns pip's exit status (0 on success)."""
    env = build_env(native)
    log(f"llamacpp_build: building llama-cpp-python {LLAMA_CPP_VERSION} from source "
        f"({'native' if native else 'portable'}: {env['CMAKE_ARGS']}); this takes about 5 minutes on 2 cores")
    for command in pip_commands(python, native, target):
        status = subprocess.call(command, env=env)
        if status:
            return status
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="llamacpp_build", description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose environment gets it")
    parser.add_argument("--native", action="store_true", help="build for this CPU (for bench_llm.py only)")
    parser.add_argument("--target", help="install into this folder (with --native, for the benchmark)")
    parser.add_argument("--print-id", action="store_true", help="print the build id and exit")
    parser.add_argument("--print-cmake-args", action="store_true", help="print the CMake arguments and exit")
    args = parser.parse_args(argv)
    if args.print_id:
        print(build_id(args.native))
        return 0
    if args.print_cmake_args:
        print(" ".join(cmake_args(args.native)))
        return 0
    return install(args.python, args.native, args.target)


if __name__ == "__main__":
    sys.exit(main())
