"""The portable llama.cpp build: its flags, and the installed libraries' machine code checked against them.

A library built for the build machine's CPU dies with "Illegal instruction" elsewhere (issue 15:
AMX `tileloadd` on a VM that advertised AMX). These tests disassemble what is installed, so a
change to the build flags fails here, not on a user's machine; and they prove the scanner itself
on small libraries compiled on purpose with the extensions it must find (compiled, never run).
"""

from __future__ import annotations

import configparser
import hashlib
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthgap.llm import llamacpp_build
from synthgap.llm.isa import classify, scan
from synthgap.llm.preflight import llamacpp_libraries, package_folder

REPO = Path(__file__).resolve().parents[1]
X86 = platform.machine().lower() in ("x86_64", "amd64")
needs_toolchain = pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("objdump")),
                                     reason="needs gcc and objdump (binutils) to compile and disassemble")


def test_portable_flags_name_every_extension_beyond_x86_64_v3_and_never_native():
    args = llamacpp_build.cmake_args(machine="x86_64")
    assert "-DGGML_NATIVE=OFF" in args and not any("NATIVE=ON" in a or "march" in a for a in args)
    for name in ("AVX2", "FMA", "F16C", "BMI2"):
        assert f"-DGGML_{name}=ON" in args
    for name in ("AVX512", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI", "AMX_TILE", "AMX_INT8", "AMX_BF16"):
        assert f"-DGGML_{name}=OFF" in args
    # no runtime variant dispatch: it would trust what cpuid advertises, which is the failure we avoid
    assert "-DGGML_CPU_ALL_VARIANTS=OFF" in args and "-DGGML_BACKEND_DL=OFF" in args
    assert llamacpp_build.cmake_args(native=True)[0] == "-DGGML_NATIVE=ON"
    assert llamacpp_build.cmake_args(machine="aarch64")[0] == "-DGGML_NATIVE=OFF"


def test_build_id_follows_the_flags_and_the_makefile_stamp_carries_it():
    assert llamacpp_build.build_id() != llamacpp_build.build_id(native=True)
    assert len(llamacpp_build.build_id()) == 12
    printed = subprocess.run([sys.executable, str(REPO / "synthgap/llm/llamacpp_build.py"), "--print-id"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert printed == llamacpp_build.build_id()  # the Makefile runs the file as a script, stdlib only
    makefile = (REPO / "Makefile").read_text()
    assert "$(LLAMA_BUILD) --python $(BIN)/python\n" in makefile and ".llama-cpp-$(LLAMA_ID)" in makefile


def test_pip_never_takes_a_wheel_from_its_cache_or_the_index():
    build, deps = llamacpp_build.pip_commands("/venv/bin/python")
    assert "--no-cache-dir" in build and build[build.index("--no-binary") + 1] == "llama-cpp-python"
    assert build[-1] == f"llama-cpp-python=={llamacpp_build.LLAMA_CPP_VERSION}" and "--no-deps" in build
    assert deps[-1] == f"llama-cpp-python[server]=={llamacpp_build.LLAMA_CPP_VERSION}"
    env = llamacpp_build.build_env(base={"PIP_FIND_LINKS": "/wheels", "PATH": "/bin"})
    assert "PIP_FIND_LINKS" not in env and env["CMAKE_ARGS"] == " ".join(llamacpp_build.cmake_args())
    (native,) = llamacpp_build.pip_commands("/venv/bin/python", native=True, target="/t")
    assert native[native.index("--target") + 1] == "/t"


def test_setup_cfg_pins_the_version_the_build_script_builds():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    llm = [line.strip() for line in cfg["options.extras_require"]["llm"].splitlines() if "llama-cpp" in line]
    assert llm == [f"llama-cpp-python[server]=={llamacpp_build.LLAMA_CPP_VERSION}"]


@pytest.mark.parametrize("raw, text, expected", [
    (bytes.fromhex("62f17c4858c1"), "vaddps %zmm1,%zmm0,%zmm0", "avx512"),
    (bytes.fromhex("62f1fe087f00"), "vmovdqu64 %xmm0,(%rax)", "avx512"),       # EVEX on an xmm register
    (bytes.fromhex("6762f17c4858c1"), "addr32 vaddps %zmm1,%zmm0,%zmm0", "avx512"),  # after a legacy prefix
    (bytes.fromhex("c5f893c8"), "kmovw %k0,%ecx", "avx512"),                  # VEX-encoded opmask
    (bytes.fromhex("c4e27a4b0408"), "tileloadd (%rax,%rcx,1),%tmm0", "amx"),
    (bytes.fromhex("c4e27149c0"), "tdpbssd %tmm1,%tmm2,%tmm0", "amx"),
    (bytes.fromhex("c4e2755050"), "{vex} vpdpbusd %ymm2,%ymm1,%ymm0", "avx-vnni"),
    (bytes.fromhex("c5fc58c1"), "vaddps %ymm1,%ymm0,%ymm0", ""),
    (bytes.fromhex("c4e2f5a8c2"), "vfmadd213pd %ymm2,%ymm1,%ymm0", ""),
    (bytes.fromhex("4889c8"), "mov %rcx,%rax", ""),
])
def test_classify_sorts_instructions_by_extension(raw, text, expected):
    assert classify(raw, text) == expected


C_SOURCES = {
    "avx512": ("#include <immintrin.h>\n__m512 f(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }\n",
               ["-mavx512f"]),
    "amx": ("#include <immintrin.h>\nvoid f(const void *p) { _tile_loadd(0, p, 64); _tile_dpbssd(0, 1, 2); }\n",
            ["-mamx-tile", "-mamx-int8"]),
    "avx-vnni": ("#include <immintrin.h>\n__m256i f(__m256i a, __m256i b, __m256i c)"
                 " { return _mm256_dpbusd_avx_epi32(a, b, c); }\n", ["-mavxvnni"]),
    "": ("#include <immintrin.h>\n__m256 f(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }\n",
         ["-mavx2", "-mfma"]),
}


@needs_toolchain
@pytest.mark.skipif(not X86, reason="x86-64 instruction sets")
@pytest.mark.parametrize("extension", list(C_SOURCES))
def test_scanner_finds_what_a_library_was_compiled_with(tmp_path, extension):
    source, flags = C_SOURCES[extension]
    (tmp_path / "f.c").write_text(source)
    lib = tmp_path / "libf.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", *flags, str(tmp_path / "f.c"), "-o", str(lib)], check=True)
    result = scan(lib)
    assert result.instructions > 0
    if extension:
        assert set(result.beyond) == {extension}, result.examples
    else:
        assert result.clean and result.used["fma"] >= 1 and result.used["avx-ymm"] >= 1, result.examples


def _unique(paths: list[Path]) -> list[Path]:
    """The libraries once each (llama-cpp-python installs libx.so, .so.0 and .so.0.N as copies)."""
    seen, out = set(), []
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(path)
    return out


@needs_toolchain
@pytest.mark.skipif(not X86, reason="the portable set is an x86-64 one")
def test_installed_llama_cpp_libraries_hold_nothing_beyond_x86_64_v3():
    libraries = _unique(llamacpp_libraries())
    if not libraries:
        pytest.skip("llama-cpp-python is not installed (make install builds it)")
    names = {p.name.split(".so")[0] for p in libraries}
    assert {"libllama", "libggml-cpu"} <= names, names
    scans = {p.name: scan(p) for p in libraries}
    beyond = {name: (dict(s.beyond), s.examples) for name, s in scans.items() if not s.clean}
    assert not beyond, f"instructions beyond x86-64-v3 in the llama.cpp build (rebuild: make llama-rebuild): {beyond}"
    # ... and the build does use the chosen set (a baseline-only build would also pass the check above)
    cpu = next(s for name, s in scans.items() if name.startswith("libggml-cpu"))
    assert cpu.used["avx-ymm"] > 1000 and cpu.used["fma"] > 100, dict(cpu.used)


@pytest.mark.skipif(package_folder("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_installed_build_reports_the_portable_feature_set():
    code = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"
    info = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    on = {part.split("=")[0].strip() for part in info.split("|") if part.strip().endswith("= 1")}
    if X86:
        assert {"AVX", "AVX2", "FMA", "F16C"} <= {w.split(":")[-1].strip() for w in on}, info
    assert not any(word in info for word in ("AVX512 = 1", "AMX_INT8 = 1", "AVX512_VNNI = 1", "AVX_VNNI = 1")), info
