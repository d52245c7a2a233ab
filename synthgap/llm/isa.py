"""Which x86-64 instruction-set extensions a shared library's machine code uses, from its disassembly.

The portable llama.cpp build (llamacpp_build.py) promises x86-64-v3 at most. This module reads
`objdump -d` of each library and sorts out the instructions beyond that set, so a change to the
build flags fails a test here instead of dying with "Illegal instruction" on a user's machine:

- AVX-512: every EVEX-encoded instruction (first opcode byte 0x62 after legacy prefixes; in
  64-bit mode that byte means nothing else), and the VEX-encoded opmask instructions (k-registers);
- AMX: the tile instructions (`ldtilecfg`, `tileloadd`, `tdpbssd`, ...);
- AVX-VNNI, AVX-IFMA, AVX-NE-CONVERT: VEX-encoded dot products and conversions newer than v3.

objdump (GNU binutils) does the decoding; writing an x86 decoder of our own would be the
bug-prone part, and binutils is on every machine that can build llama.cpp.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Union

from ..errors import SynthgapError

LEGACY_PREFIXES = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3}
AMX = re.compile(r"^(ldtilecfg|sttilecfg|tilerelease|tilezero|tileload\w*|tilestore\w*|tdp\w+|tcmm\w+)$")
VEX_DOT = re.compile(r"^(vpdpbusds?|vpdpwssds?|vpdpb[su][su]ds?|vpdpw[su][su]ds?)$")      # AVX-VNNI(-INT8/16)
VEX_IFMA = re.compile(r"^vpmadd52[hl]uq$")
VEX_NE_CONVERT = re.compile(r"^(vbcstne\w+|vcvtne\w*ps2bf16|vcvtneeph2ps|vcvtneebf162ps|vcvtneoph2ps|vcvtneobf162ps)$")
OPMASK = re.compile(r"%k[0-7]\b")
WIDE = re.compile(r"%zmm\d+|%[xy]mm(1[6-9]|2\d|3[01])\b")
LINE = re.compile(r"^\s*[0-9a-f]+:\t([0-9a-f]{2}(?: [0-9a-f]{2})*)\s*\t(.*)$")


@dataclass
class Scan:
    """What one library holds beyond x86-64-v3: counts per extension and a few examples each."""

    path: str
    instructions: int = 0
    beyond: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    used: Counter = field(default_factory=Counter)  # v3 markers seen (ymm registers, FMA), to show the set is used

    def add(self, extension: str, text: str) -> None:
        self.beyond[extension] += 1
        examples = self.examples.setdefault(extension, [])
        if len(examples) < 3:
            examples.append(text)

    @property
    def clean(self) -> bool:
        return not self.beyond


def classify(raw: bytes, text: str) -> str:
    """The extension beyond x86-64-v3 that one decoded instruction needs, or '' when it needs none."""
    words = text.split()
    while words and words[0].startswith("{"):  # objdump's pseudo-prefixes: {vex}, {evex}, {disp32}
        words = words[1:]
    mnemonic = words[0] if words else ""
    operands = " ".join(words[1:])
    i = 0
    while i < len(raw) and raw[i] in LEGACY_PREFIXES:
        i += 1
    if i < len(raw) and raw[i] == 0x62:
        return "avx512"
    if OPMASK.search(operands) or WIDE.search(operands):
        return "avx512"
    if AMX.match(mnemonic):
        return "amx"
    if VEX_DOT.match(mnemonic):
        return "avx-vnni"
    if VEX_IFMA.match(mnemonic):
        return "avx-ifma"
    if VEX_NE_CONVERT.match(mnemonic):
        return "avx-ne-convert"
    return ""


def disassembly(path: Union[str, Path]) -> Iterator[tuple[bytes, str]]:
    """(raw bytes, 'mnemonic operands') for every instruction of the executable sections."""
    objdump = shutil.which("objdump")
    if objdump is None:
        raise SynthgapError("objdump not found: install binutils to scan a library's instructions")
    proc = subprocess.Popen([objdump, "-d", "--insn-width=15", "-M", "att", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    assert proc.stdout is not None
    for line in proc.stdout:
        match = LINE.match(line)
        if match and match.group(2).strip():
            yield bytes.fromhex(match.group(1).replace(" ", "")), match.group(2).strip()
    _, err = proc.communicate()
    if proc.returncode:
        raise SynthgapError(f"objdump failed on {path}: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")


def scan(path: Union[str, Path]) -> Scan:
    """Every instruction of `path` sorted into x86-64-v3 or an extension beyond it."""
    result = Scan(str(path))
    for raw, text in disassembly(path):
        result.instructions += 1
        extension = classify(raw, text)
        if extension:
            result.add(extension, text)
            continue
        if "%ymm" in text:
            result.used["avx-ymm"] += 1
        if text.startswith(("vfmadd", "vfnmadd", "vfmsub", "vfnmsub")):
            result.used["fma"] += 1
    return result


def scan_all(paths: Iterable[Union[str, Path]]) -> list[Scan]:
    return [scan(p) for p in paths]


__all__ = ["Scan", "classify", "disassembly", "scan", "scan_all"]
