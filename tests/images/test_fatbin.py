"""images/kt-sglang/fatbin.py reads nvcc's fatbin containers (cuda-archs.py's architecture table and
gpu-proof/extract_kernel.py's cubins come from it). Checked here on containers laid out like nvcc's,
embedded in an ELF-like blob; the real wheel's figures are in images/kt-sglang/README.md and
GPU-PROOF.md."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile

import pytest

from tests.images.dockerfile import IMAGES

CONTEXT = IMAGES / "kt-sglang"
SYMBOL = "_ZN10flashinfer4norm13RMSNormKernelILj8E6__halfEEvPT0_S4_S4_jjjff"


@pytest.fixture(scope="module")
def fatbin():
    sys.path.insert(0, str(CONTEXT))
    try:
        import fatbin as module
        yield module
    finally:
        sys.path.remove(str(CONTEXT))


def cubin(symbols: list[str], arch_specific: bool = False) -> bytes:
    """A minimal ELF64 image: header, a string table, then 2 section headers at the end."""
    strtab = b"\0" + b"\0".join(name.encode() for name in symbols) + b"\0"
    shoff = 64 + len(strtab)
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    struct.pack_into("<QQ", header, 0x20, 0, shoff)                       # e_phoff, e_shoff
    struct.pack_into("<I", header, 0x30, 0x5A055A | (0x800 if arch_specific else 0))  # e_flags
    struct.pack_into("<HHHH", header, 0x36, 56, 0, 64, 2)                # phentsize, phnum, shentsize, shnum
    return bytes(header) + strtab + bytes(128)


def entry(kind: int, arch: int, payload: bytes, flags: int = 0x11, padding: int = 16) -> bytes:
    head = bytearray(64)
    struct.pack_into("<HHIQ", head, 0, kind, 0x101, 64, len(payload) + padding)
    struct.pack_into("<I", head, 28, arch)
    struct.pack_into("<Q", head, 40, flags)
    return bytes(head) + payload + bytes(padding)


def container(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(body)) + body


def library() -> bytes:
    norm = container(entry(2, 80, cubin([SYMBOL])), entry(2, 90, cubin([SYMBOL])),
                     entry(2, 90, cubin([SYMBOL], arch_specific=True), flags=0x100011))
    other = container(entry(2, 90, cubin(["_Z5otherv"])), entry(1, 120, b".version 8.0\n", flags=0x2011))
    return b"\x7fELF" + bytes(100) + norm + bytes(24) + other + bytes(8)


def test_entries_give_kind_arch_flags_and_the_trimmed_cubin(fatbin):
    found = list(fatbin.entries(library()))
    assert [(e.kind, e.arch, e.flags) for e in found] == [
        (2, 80, 0x11), (2, 90, 0x11), (2, 90, 0x100011), (2, 90, 0x11), (1, 120, 0x2011)]
    assert found[1].cubin() == cubin([SYMBOL])                    # padding cut at the section headers
    assert [e.arch_specific() for e in found[:3]] == [False, False, True]
    assert found[4].compressed
    with pytest.raises(ValueError, match="not an uncompressed ELF cubin"):
        found[4].cubin()


def test_cuda_archs_lists_sass_and_ptx(tmp_path):
    so = tmp_path / "ops.so"
    so.write_bytes(library())
    out = subprocess.run([sys.executable, str(CONTEXT / "cuda-archs.py"), str(so)],
                         capture_output=True, text=True, check=True).stdout
    assert out == f"{so}: sass=[80, 90] ptx=[120]\n"


def wheel(path, data: bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("sgl_kernel/sm90/common_ops.abi3.so", data)
    return path


def test_extract_kernel_writes_the_sm90_cubins_that_define_the_symbol(tmp_path):
    whl = wheel(tmp_path / "ktransformers-0.7.2-py3-none-any.whl", library())
    subprocess.run([sys.executable, str(CONTEXT / "gpu-proof" / "extract_kernel.py"), str(whl), str(tmp_path / "out")],
                   capture_output=True, text=True, check=True)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [c["file"] for c in manifest["cubins"]] == ["sm_90.cubin", "sm_90a.cubin"]
    assert manifest["symbol"] == SYMBOL
    assert (tmp_path / "out" / "sm_90.cubin").read_bytes() == cubin([SYMBOL])
    assert (tmp_path / "out" / "sm_90a.cubin").read_bytes() == cubin([SYMBOL], arch_specific=True)


def test_extract_kernel_fails_naming_a_symbol_that_no_sm90_cubin_defines(tmp_path):
    whl = wheel(tmp_path / "k.whl", library())
    result = subprocess.run([sys.executable, str(CONTEXT / "gpu-proof" / "extract_kernel.py"), str(whl),
                             str(tmp_path / "out"), "--symbol", "_Z7missingv"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "no uncompressed sm_90 cubin in sgl_kernel/sm90/common_ops.abi3.so defines _Z7missingv" in result.stderr
