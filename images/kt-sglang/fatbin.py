"""CUDA fatbin containers inside ELF shared objects, read without the CUDA toolkit.

A container starts with magic 0xBA55ED50 (version 1, a 16-byte header, then the size of its
entries). Each entry has a header giving its kind (1 = PTX, 2 = ELF cubin), its SM number and its
flags, then its payload. Layout as nvcc writes it in CUDA 12 (the same the open fatbin readers use).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterator

MAGIC = struct.pack("<I", 0xBA55ED50)
PTX, CUBIN = 1, 2
FLAG_COMPRESSED = 0x2000


@dataclass(frozen=True)
class Entry:
    container_offset: int  # file offset of the container the entry belongs to
    offset: int            # file offset of the entry's payload
    kind: int
    arch: int              # SM number: 90 for sm_90 and sm_90a
    flags: int
    payload: bytes

    @property
    def compressed(self) -> bool:
        return bool(self.flags & FLAG_COMPRESSED)

    def cubin(self) -> bytes:
        """The ELF image without the container's padding (an uncompressed cubin entry only)."""
        if self.kind != CUBIN or self.compressed or self.payload[:4] != b"\x7fELF":
            raise ValueError(f"entry at {self.offset:#x} is not an uncompressed ELF cubin")
        phoff, shoff = struct.unpack_from("<QQ", self.payload, 0x20)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", self.payload, 0x36)
        return self.payload[:max(shoff + shentsize * shnum, phoff + phentsize * phnum)]

    def arch_specific(self) -> bool:
        """sm_90a rather than sm_90: the arch-specific bit (0x800) of the cubin's ELF e_flags, in the
        ELF layout nvcc uses up to sm_90 (sm_100 and later cubins encode e_flags differently)."""
        return self.kind == CUBIN and not self.compressed and bool(self.elf_flags() & 0x800)

    def elf_flags(self) -> int:
        return struct.unpack_from("<I", self.payload, 0x30)[0]


def entries(data: bytes) -> Iterator[Entry]:
    start = 0
    while (at := data.find(MAGIC, start)) >= 0:
        start = at + 4
        try:
            _, version, header_size, size = struct.unpack_from("<IHHQ", data, at)
        except struct.error:
            return
        if version != 1 or header_size != 16:
            continue
        pos, end = at + header_size, at + header_size + size
        while pos < end and pos + 64 <= len(data):
            kind, _, entry_header, payload_size = struct.unpack_from("<HHIQ", data, pos)
            if entry_header == 0 or kind not in (PTX, CUBIN):
                break
            arch = struct.unpack_from("<I", data, pos + 28)[0]
            flags = struct.unpack_from("<Q", data, pos + 40)[0]
            body = pos + entry_header
            yield Entry(at, body, kind, arch, flags, data[body:body + payload_size])
            pos = body + payload_size
        start = max(start, pos)  # a payload's bytes are never read as another container's header
