"""The CUDA fatbin container: which GPU programs a blob of device code holds.

A pure parser of bytes (a ``bytes`` object or a memory map): containers and
entries in, :class:`FatbinEntry` values out. It does not know about ELF; the
reader (:mod:`bundler.elf.reader`) finds the fatbin section of a library and
hands its byte range here. Whether the programs suit a target's GPUs is a
question for :mod:`bundler.check.native`.

The container is not ELF and is not documented by NVIDIA; its layout
(little-endian) follows the community notes of n-eiling/cuda-fatbin-decompression,
jiegec/fatbinary and GrigoryEvko/nvopen-tools, checked against nvcc 13.0 output.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from typing import Literal

# Container header, 16 bytes:
#   0  u32 magic 0xBA55ED50
#   4  u16 version (1)
#   6  u16 header size (16): the first entry starts this far from the magic
#   8  u64 size of all entries that follow the header
_CONTAINER = struct.Struct("<IHHQ")
_FATBIN_MAGIC = 0xBA55ED50
_FATBIN_MAGIC_BYTES = struct.pack("<I", _FATBIN_MAGIC)

# Entry header, 64 bytes or more (64/80/96/112/120 seen), payload right after:
#   0  u16 kind: 1 = PTX text, 2 = ELF cubin (SASS), 8 = LTO-IR (nvcc -dlto),
#      which the driver cannot load, so it is skipped like unknown kinds
#   2  u16 unknown (0x0101)
#   4  u32 size of this header; the payload starts this far from the entry
#   8  u64 payload size, padded to 8; the next entry starts after it
#  16  u32 compressed size, u32 offset of the options block
#  24  u16 minor, u16 major: code version (ELF ABI or PTX ISA), unused here
#  28  u32 architecture as a number: 75 for sm_75 / compute_75
#  32  u32 offset and u32 length of an object name (0 for nvcc output)
#  40  u64 flags, decoded below
#  48  u64 reserved, u64 decompressed size; an extension up to the header size
# Only kind, header size, payload size, arch and flags are read: enough to walk
# the entries and name each one, and none of them lies in the payload, so
# compressed entries need no decompression.
_ENTRY = struct.Struct("<H2xIQ12xI8xQ")
_ENTRY_MIN_SIZE = 64
_KIND_PTX = 1
_KIND_ELF = 2
# Compression flags: 0x2000 is LZ4 (PTX in the CUDA 12.6 libcurand wheel),
# 0x8000 zstd (nvcc 13.0 compresses PTX by default, cubins with
# -Xfatbin -compress-all). Only the payload is compressed, never the header.
_FLAG_COMPRESSED = 0x2000 | 0x8000
# Architecture suffixes, observed in nvcc 13.0 output: sm_90a sets 0x100000,
# sm_100f (and compute_100f) 0x200000; plain sm_90 sets neither.
_FLAG_ARCH_SPECIFIC = 0x100000
_FLAG_FAMILY_SPECIFIC = 0x200000


@dataclass(frozen=True)
class FatbinEntry:
    """One embedded GPU program: SASS for a real GPU or PTX for a virtual one.

    ``arch`` is the name nvcc uses: ``sm_75`` (SASS), ``compute_86`` (PTX),
    with an ``a``/``f`` suffix for arch- or family-specific code.
    """

    kind: Literal["sass", "ptx"]
    arch: str
    compressed: bool


class MalformedFatbin(Exception):
    """A container or entry does not fit the bytes it claims to occupy."""


def _entry_arch(kind: Literal["sass", "ptx"], number: int, flags: int) -> str:
    suffix = ""
    if flags & _FLAG_ARCH_SPECIFIC:
        suffix = "a"
    elif flags & _FLAG_FAMILY_SPECIFIC:
        suffix = "f"
    return f"{'sm' if kind == 'sass' else 'compute'}_{number}{suffix}"


def parse_fatbin(
    data: bytes | mmap.mmap, start: int = 0, end: int | None = None
) -> tuple[FatbinEntry, ...]:
    """Every SASS and PTX entry of the fatbin containers in ``data[start:end]``.

    A section holds one container per translation unit (or per device link),
    back to back, each padded to 8 bytes with zeros. Anything else between or
    after them, any size pointing outside its container, and a window that
    runs past the end of ``data`` raise :class:`MalformedFatbin`: one bad
    entry makes every architecture of the blob unknown, never a guess.
    """
    stop = len(data) if end is None else end
    if stop > len(data):
        raise MalformedFatbin(f"it ends {stop - len(data)} bytes past the end of the data")
    entries: list[FatbinEntry] = []
    pos = start
    while pos < stop:
        found = data.find(_FATBIN_MAGIC_BYTES, pos, stop)
        gap_end = stop if found < 0 else found
        if data[pos:gap_end].strip(b"\0"):
            raise MalformedFatbin(f"unexpected bytes at offset {pos - start}")
        if found < 0:
            break
        pos = _scan_container(data, found, start, stop, entries)
    return tuple(entries)


def _scan_container(
    data: bytes | mmap.mmap, found: int, start: int, stop: int, entries: list[FatbinEntry]
) -> int:
    """Append the entries of the container at ``found`` and return where it ends."""
    if found + _CONTAINER.size > stop:
        raise MalformedFatbin(f"container header at offset {found - start} is truncated")
    _, version, header_size, fat_size = _CONTAINER.unpack_from(data, found)
    container_end: int = found + header_size + fat_size
    if version != 1 or header_size < _CONTAINER.size or container_end > stop:
        raise MalformedFatbin(
            f"container at offset {found - start}: version {version}, header "
            f"{header_size} bytes, {fat_size} bytes of entries in a "
            f"{stop - start}-byte section"
        )
    entry = found + header_size
    while entry < container_end:
        if entry + _ENTRY_MIN_SIZE > container_end:
            raise MalformedFatbin(f"entry header at offset {entry - start} is truncated")
        kind, entry_size, payload_size, arch, flags = _ENTRY.unpack_from(data, entry)
        next_entry = entry + entry_size + payload_size
        if entry_size < _ENTRY_MIN_SIZE or next_entry > container_end:
            raise MalformedFatbin(
                f"entry at offset {entry - start}: header {entry_size} bytes and "
                f"payload {payload_size} bytes overrun its container"
            )
        if kind in (_KIND_ELF, _KIND_PTX):
            name: Literal["sass", "ptx"] = "sass" if kind == _KIND_ELF else "ptx"
            entries.append(
                FatbinEntry(name, _entry_arch(name, arch, flags), bool(flags & _FLAG_COMPRESSED))
            )
        entry = next_entry
    return container_end


def arch_sort_key(arch: str) -> tuple[int, str]:
    """Order architecture names by number, then suffix: sm_75 < sm_90 < sm_90a < sm_100f."""
    number = arch.rpartition("_")[2]
    digits = number.rstrip("af")
    return int(digits), number[len(digits) :]
