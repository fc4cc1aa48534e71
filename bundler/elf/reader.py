"""Read what a native library needs from the system it will load on.

A pure reader: a path (or the bytes of a file) goes in, an :class:`ElfInfo`
comes out; nothing is executed or written. ``kbundle check`` compares these
facts with the target image: the sonames a library links against (NEEDED),
where it looks for them (RPATH/RUNPATH), the newest glibc and libstdc++
symbol versions it requires (``.gnu.version_r``) and which GPU architectures
its embedded CUDA code was built for (the fatbin in ``.nv_fatbin``).

ELF structures are read with pyelftools, the same reader auditwheel uses. The
CUDA fatbin container is not ELF and is not documented by NVIDIA; its layout
is described at :func:`parse_fatbin`.
"""

from __future__ import annotations

import io
import logging
import mmap
import os
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Literal, cast

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.dynamic import Dynamic, DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

if TYPE_CHECKING:
    from elftools.elf.dynamic import DynamicTag

logger = logging.getLogger(__name__)

ELF_MAGIC = b"\x7fELF"

# What a damaged file makes pyelftools raise: its own errors, its bundled
# construct's errors when a structure runs past the end of the data, and plain
# ValueError/IndexError/struct.error from a few paths that index tables
# directly (UnicodeDecodeError, for a broken string table, is a ValueError).
_ELF_PARSE_ERRORS = (ELFError, ConstructError, ValueError, IndexError, struct.error)

# ---------------------------------------------------------------------------
# System libraries

# The libraries a manylinux wheel may link against without bundling them:
# ``lib_whitelist`` of the manylinux_2_17 (manylinux2014) policy in auditwheel,
# https://github.com/pypa/auditwheel/blob/main/src/auditwheel/policy/manylinux-policy.json
# PEP 600 leaves the list of perennial manylinux tags to that file (auditwheel
# is the reference implementation); it is PEP 599's list plus libatomic,
# libanl, libexpat and libz, added since.
MANYLINUX_ALLOWED_SONAMES: frozenset[str] = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "librt.so.1",
        "libpthread.so.0",
        "libutil.so.1",
        "libresolv.so.2",
        "libnsl.so.1",
        "libanl.so.1",
        "libgcc_s.so.1",
        "libstdc++.so.6",
        "libatomic.so.1",
        "libz.so.1",
        "libexpat.so.1",
        "libX11.so.6",
        "libXext.so.6",
        "libXrender.so.1",
        "libICE.so.6",
        "libSM.so.6",
        "libGL.so.1",
        "libgobject-2.0.so.0",
        "libgthread-2.0.so.0",
        "libglib-2.0.so.0",
    }
)

# The program interpreters (dynamic loaders) of the manylinux architectures.
# Libraries that call into ld.so itself (``_dl_find_object``, TLS helpers)
# list it as NEEDED; it ships with glibc. The policy file leaves it out
# because auditwheel never treats the interpreter as a dependency.
_LOADER_SONAMES = frozenset(
    {
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "ld-linux.so.2",
        "ld64.so.2",
        "ld64.so.1",
        "ld-linux-armhf.so.3",
        "ld-linux-riscv64-lp64d.so.1",
    }
)

# What every glibc-based image provides: the glibc and GCC runtime entries of
# the manylinux list (apt and dnf themselves link libstdc++, so even slim
# images carry it), glibc's libmvec, and the loaders. The graphics, GLib,
# expat, zlib and libatomic entries are allowed by the policy but live in
# separate distribution packages that slim containers lack: the classic
# "libGL.so.1: cannot open shared object file" of opencv-python in Docker.
# For those, look in the target's own library list instead.
BASE_SYSTEM_SONAMES: frozenset[str] = (
    frozenset(
        {
            "libc.so.6",
            "libm.so.6",
            "libmvec.so.1",
            "libdl.so.2",
            "librt.so.1",
            "libpthread.so.0",
            "libutil.so.1",
            "libresolv.so.2",
            "libnsl.so.1",
            "libanl.so.1",
            "libgcc_s.so.1",
            "libstdc++.so.6",
        }
    )
    | _LOADER_SONAMES
)

# Provided by the host's NVIDIA driver (mounted into GPU containers by the
# NVIDIA container runtime), never by a wheel or the CUDA toolkit: a library
# that needs them loads only on a machine with a driver.
CUDA_DRIVER_SONAMES: frozenset[str] = frozenset({"libcuda.so.1", "libnvidia-ml.so.1"})

# ---------------------------------------------------------------------------
# CUDA toolkit sonames

# NVIDIA's CUDA libraries as they appear in NEEDED: ``lib<name>.so.<major>``,
# sometimes with a minor (``libcudart.so.11.0``, ``libnvrtc.so.11.2``,
# ``libnvrtc-builtins.so.12.8``). The development symlinks without a number
# (``libcudart.so``) never appear in NEEDED and do not match.
CUDA_SONAME_PATTERN = re.compile(
    r"^lib(?P<name>cudart|cublasLt|cublas|cufftw|cufft|curand|cusolverMg|cusolver"
    r"|cusparseLt|cusparse|nvrtc-builtins|nvrtc|nvJitLink|nvjpeg|npp[a-z]*|nvToolsExt"
    r"|cupti|cufile|cudnn(?:_[a-z_]+)?|nccl)"
    r"\.so\.(?P<major>\d+)(?:\.\d+)*$"
)

# Libraries whose soname major *is* the CUDA major they were built with
# (libcudart.so.12 ⇔ CUDA 12.x; nvJitLink exists since CUDA 12). The others
# version independently and say nothing about the CUDA major: cuFFT 11 ships
# with CUDA 12 and cuFFT 12 with 13, cuRAND stayed at 10 from CUDA 11 to 12,
# cuSOLVER 11 spans CUDA 11 and 12, cuDNN 9 and NCCL 2 exist for several CUDA
# majors. For those, ask the wheel's metadata (nvidia-*-cu12) instead.
CUDA_MAJOR_INDICATIVE: frozenset[str] = frozenset(
    {"cudart", "cublas", "cublasLt", "nvrtc", "nvrtc-builtins", "nvJitLink"}
)


def cuda_soname_major(soname: str) -> tuple[str, int] | None:
    """``"libcublasLt.so.12"`` → ``("cublasLt", 12)``; None for a non-CUDA soname.

    The number is the library's own soname major; use :func:`cuda_major_of_soname`
    for the CUDA major it implies.
    """
    match = CUDA_SONAME_PATTERN.match(soname)
    if match is None:
        return None
    return match["name"], int(match["major"])


def cuda_major_of_soname(soname: str) -> int | None:
    """The CUDA major a soname pins (``"libcudart.so.12"`` → 12), or None.

    None both for non-CUDA sonames and for CUDA libraries whose major is not
    the CUDA major (see :data:`CUDA_MAJOR_INDICATIVE`).
    """
    parsed = cuda_soname_major(soname)
    if parsed is None or parsed[0] not in CUDA_MAJOR_INDICATIVE:
        return None
    return parsed[1]


# ---------------------------------------------------------------------------
# Symbol versions

# Requirement names that are markers, not numbered versions, yet still need a
# minimum glibc: a library linked with ``-z pack-relative-relocs`` requires
# GLIBC_ABI_DT_RELR, which glibc defines since 2.36. Older loaders refuse it.
_GLIBC_MARKERS: Mapping[str, tuple[int, int]] = MappingProxyType({"GLIBC_ABI_DT_RELR": (2, 36)})


def _numeric_version(name: str, prefix: str) -> tuple[int, ...] | None:
    """``("GLIBC_2.2.5", "GLIBC_")`` → (2, 2, 5); None for GLIBC_PRIVATE and the like."""
    if prefix == "GLIBC_" and name in _GLIBC_MARKERS:
        return _GLIBC_MARKERS[name]
    if not name.startswith(prefix):
        return None
    parts = name[len(prefix) :].split(".")
    if not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def libc_version_of(name: str) -> tuple[int, int] | None:
    """The glibc release a version requirement needs: ``"GLIBC_2.32"`` → (2, 32).

    Micro versions are dropped (``GLIBC_2.2.5`` → (2, 2)) because images are
    described by major.minor; names that are not glibc versions give None.
    """
    version = _numeric_version(name, "GLIBC_")
    if version is None or len(version) < 2:
        return None
    return version[0], version[1]


# ---------------------------------------------------------------------------
# Result


@dataclass(frozen=True)
class ElfInfo:
    """What one ELF file needs from the system that loads it.

    ``rpath`` holds the DT_RPATH entries then the DT_RUNPATH entries, split on
    ``:``, exactly as written (``$ORIGIN`` is not expanded). ``version_requirements``
    maps a library file name to the version names required from it, in file
    order. ``machine`` uses the names of wheel tags and ``uname -m``
    (``x86_64``, ``aarch64``, ``i686``, ``ppc64le`` ...). CUDA architectures
    are those of the loadable fatbin, sorted by number: SASS as ``sm_75`` and
    PTX as ``compute_86``, with NVIDIA's suffix for arch-specific (``sm_90a``)
    and family-specific (``sm_100f``) code.
    ``fatbin_error`` says why an embedded fatbin could not be read (its
    architectures are then empty, not a guess).
    """

    path: str
    soname: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    machine: str
    elf_class: int
    version_requirements: Mapping[str, tuple[str, ...]] = field(hash=False)
    cuda_sass_archs: tuple[str, ...] = ()
    cuda_ptx_archs: tuple[str, ...] = ()
    fatbin_error: str | None = None

    def max_version(self, prefix: str) -> tuple[int, ...] | None:
        """The highest numbered requirement with ``prefix`` across all libraries.

        ``"GLIBC_"``, ``"GLIBCXX_"``, ``"CXXABI_"``, ``"GCC_"``: compared as
        numbers (GLIBC_2.9 < GLIBC_2.17). GLIBC_PRIVATE and other names that
        are not numbers are ignored, except glibc markers with a known first
        release (GLIBC_ABI_DT_RELR counts as 2.36). None if nothing matches.
        """
        versions = [
            version
            for names in self.version_requirements.values()
            for name in names
            if (version := _numeric_version(name, prefix)) is not None
        ]
        return max(versions, default=None)


# ---------------------------------------------------------------------------
# CUDA fatbin

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


class _MalformedFatbin(Exception):
    """A container or entry does not fit the bytes it claims to occupy."""


def _entry_arch(kind: Literal["sass", "ptx"], number: int, flags: int) -> str:
    suffix = ""
    if flags & _FLAG_ARCH_SPECIFIC:
        suffix = "a"
    elif flags & _FLAG_FAMILY_SPECIFIC:
        suffix = "f"
    return f"{'sm' if kind == 'sass' else 'compute'}_{number}{suffix}"


def _scan_fatbin(data: bytes | mmap.mmap, start: int, end: int) -> list[FatbinEntry]:
    """Every SASS and PTX entry of the containers in ``data[start:end]``.

    A section holds one container per translation unit (or per device link),
    back to back, each padded to 8 bytes with zeros. Anything else between or
    after them, and any size pointing outside its container, is malformed.
    """
    entries: list[FatbinEntry] = []
    pos = start
    while pos < end:
        found = data.find(_FATBIN_MAGIC_BYTES, pos, end)
        gap_end = end if found < 0 else found
        if data[pos:gap_end].strip(b"\0"):
            raise _MalformedFatbin(f"unexpected bytes at offset {pos - start}")
        if found < 0:
            break
        if found + _CONTAINER.size > end:
            raise _MalformedFatbin(f"container header at offset {found - start} is truncated")
        _, version, header_size, fat_size = _CONTAINER.unpack_from(data, found)
        container_end = found + header_size + fat_size
        if version != 1 or header_size < _CONTAINER.size or container_end > end:
            raise _MalformedFatbin(
                f"container at offset {found - start}: version {version}, header "
                f"{header_size} bytes, {fat_size} bytes of entries in a "
                f"{end - start}-byte section"
            )
        entry = found + header_size
        while entry < container_end:
            if entry + _ENTRY_MIN_SIZE > container_end:
                raise _MalformedFatbin(f"entry header at offset {entry - start} is truncated")
            kind, entry_size, payload_size, arch, flags = _ENTRY.unpack_from(data, entry)
            next_entry = entry + entry_size + payload_size
            if entry_size < _ENTRY_MIN_SIZE or next_entry > container_end:
                raise _MalformedFatbin(
                    f"entry at offset {entry - start}: header {entry_size} bytes and "
                    f"payload {payload_size} bytes overrun its container"
                )
            if kind in (_KIND_ELF, _KIND_PTX):
                name: Literal["sass", "ptx"] = "sass" if kind == _KIND_ELF else "ptx"
                entries.append(
                    FatbinEntry(
                        name, _entry_arch(name, arch, flags), bool(flags & _FLAG_COMPRESSED)
                    )
                )
            entry = next_entry
        pos = container_end
    return entries


def parse_fatbin(
    data: bytes | mmap.mmap, start: int = 0, end: int | None = None, *, source: str = "fatbin"
) -> tuple[FatbinEntry, ...]:
    """The SASS and PTX entries of the CUDA fatbin containers in ``data[start:end]``.

    The layout (little-endian; no NVIDIA documentation exists) follows the
    community notes of n-eiling/cuda-fatbin-decompression, jiegec/fatbinary
    and GrigoryEvko/nvopen-tools, checked against nvcc 13.0 output. Malformed
    data gives an empty tuple and a logged warning naming ``source``, never an
    exception: one bad entry makes every architecture of the blob unknown.
    """
    stop = len(data) if end is None else min(end, len(data))
    try:
        return tuple(_scan_fatbin(data, start, stop))
    except _MalformedFatbin as exc:
        logger.warning("%s: malformed CUDA fatbin (%s); its architectures are unknown", source, exc)
        return ()


def _arch_sort_key(arch: str) -> tuple[int, str]:
    number = arch.rpartition("_")[2]
    digits = number.rstrip("af")
    return int(digits), number[len(digits) :]


# The loadable fatbin of a linked library or executable is ``.nv_fatbin``: the
# CUDA runtime registers it through ``.nvFatBinSegment``. ``__nv_relfatbin``
# holds relocatable device code (nvcc -rdc) kept for a later device link; in a
# linked library it is a leftover whose PTX never reaches the driver (seen
# with nvcc 13.0: -rdc with code=compute_75 leaves PTX only there). So it
# counts only in files without ``.nv_fatbin``: relocatable objects.
_FATBIN_SECTIONS = (".nv_fatbin", "__nv_relfatbin")


# ---------------------------------------------------------------------------
# ELF reading

# e_machine → the architecture name wheel tags and ``uname -m`` use.
_MACHINES: Mapping[str, str] = MappingProxyType(
    {
        "EM_X86_64": "x86_64",
        "EM_386": "i686",
        "EM_AARCH64": "aarch64",
        "EM_ARM": "armv7l",
        "EM_S390": "s390x",
        "EM_RISCV": "riscv64",
        "EM_LOONGARCH": "loongarch64",
    }
)


def _machine_name(elf: ELFFile) -> str:
    machine = elf["e_machine"]
    if machine == "EM_PPC64":
        return "ppc64le" if elf.little_endian else "ppc64"
    if isinstance(machine, str):
        return _MACHINES.get(machine, machine.removeprefix("EM_").lower())
    return f"em_{machine}"


def _tag_string(tag: DynamicTag) -> str:
    # pyelftools resolves the string of DT_NEEDED/DT_SONAME/DT_RPATH/DT_RUNPATH
    # into an attribute named after the tag ("needed", "soname", ...).
    value = getattr(tag, tag.entry.d_tag[3:].lower())
    return str(value)


def _read(elf: ELFFile, data: bytes | mmap.mmap, path: str) -> ElfInfo:
    # One pass over the sections: pyelftools builds a full object for each one
    # it iterates (hash sections parse their whole table), so never walk twice.
    dynamic: list[Dynamic] = []
    requirements: dict[str, list[str]] = {}
    fatbins: dict[str, tuple[int, int]] = {}
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            dynamic.append(section)
        elif isinstance(section, GNUVerNeedSection):
            for verneed, auxiliaries in section.iter_versions():
                names = requirements.setdefault(str(verneed.name), [])
                names += [str(aux.name) for aux in auxiliaries if aux.name not in names]
        elif section.name in _FATBIN_SECTIONS and section["sh_type"] != "SHT_NOBITS":
            fatbins[section.name] = (section["sh_offset"], section["sh_size"])
    if elf.num_sections() == 0:
        # Section headers stripped (sstrip): the loader needs only PT_DYNAMIC,
        # so read that. Not the default because pyelftools walks every section
        # again to build a DynamicSegment.
        dynamic = [seg for seg in elf.iter_segments() if isinstance(seg, DynamicSegment)]

    soname: str | None = None
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    for table in dynamic:
        for tag in table.iter_tags():
            d_tag = tag.entry.d_tag
            if d_tag == "DT_NEEDED":
                needed.append(_tag_string(tag))
            elif d_tag == "DT_SONAME":
                soname = _tag_string(tag)
            elif d_tag == "DT_RPATH":
                rpath += [entry for entry in _tag_string(tag).split(":") if entry]
            elif d_tag == "DT_RUNPATH":
                runpath += [entry for entry in _tag_string(tag).split(":") if entry]

    sass: set[str] = set()
    ptx: set[str] = set()
    fatbin_error: str | None = None
    name = next((name for name in _FATBIN_SECTIONS if name in fatbins), None)
    if name is not None:
        offset, size = fatbins[name]
        try:
            if offset + size > len(data):
                raise _MalformedFatbin(f"section {name} runs past the end of the file")
            entries = _scan_fatbin(data, offset, offset + size)
        except _MalformedFatbin as exc:
            fatbin_error = f"{name}: {exc}"
            logger.warning("%s: malformed CUDA fatbin in %s", path, fatbin_error)
        else:
            sass = {entry.arch for entry in entries if entry.kind == "sass"}
            ptx = {entry.arch for entry in entries if entry.kind == "ptx"}

    return ElfInfo(
        path=path,
        soname=soname,
        needed=tuple(needed),
        rpath=(*rpath, *runpath),
        machine=_machine_name(elf),
        elf_class=elf.elfclass,
        version_requirements=MappingProxyType(
            {library: tuple(names) for library, names in requirements.items()}
        ),
        cuda_sass_archs=tuple(sorted(sass, key=_arch_sort_key)),
        cuda_ptx_archs=tuple(sorted(ptx, key=_arch_sort_key)),
        fatbin_error=fatbin_error,
    )


def read_elf_bytes(data: bytes, path: str = "<bytes>") -> ElfInfo | None:
    """:func:`read_elf` for a file already in memory (a wheel member, say).

    ``path`` only labels the result and log messages.
    """
    if not data.startswith(ELF_MAGIC):
        return None
    try:
        return _read(ELFFile(io.BytesIO(data)), data, path)
    except _ELF_PARSE_ERRORS as exc:
        logger.warning("%s: starts like an ELF file but cannot be read (%s)", path, exc)
        return None


def read_elf(path: Path) -> ElfInfo | None:
    """What the ELF file at ``path`` needs, or None if it is not an ELF file.

    The first four bytes are checked before anything else, so calling this on
    every file of a lib folder costs one small read per non-ELF file. A file
    that has the ELF magic but cannot be parsed (truncated, corrupt) also
    gives None, with a logged warning. OSError from opening or reading the
    file propagates.
    """
    with path.open("rb") as stream:
        if stream.read(len(ELF_MAGIC)) != ELF_MAGIC:
            return None
        # Mapped, not read: a CUDA library can be gigabytes, and only its
        # headers, dynamic data and fatbin entry headers are ever touched.
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                # mmap has the read/seek/tell that ELFFile uses, just not the
                # IO[bytes] type its annotation asks for.
                return _read(ELFFile(cast("IO[bytes]", data)), data, str(path))
            except _ELF_PARSE_ERRORS as exc:
                logger.warning("%s: starts like an ELF file but cannot be read (%s)", path, exc)
                return None


def iter_elf_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` that start with the ELF magic.

    The order is stable: a directory's files by name, then its subdirectories
    by name, depth first.

    Symbolic links, to files or directories, are not followed or reported:
    a link names a file that is reported under its real path already (or lies
    outside ``root``), and wheels cannot carry links anyway, so lib folders
    built from wheels hold copies. Which names satisfy a NEEDED entry is a
    question for the directory listing (or the target's library list), not
    for the ELF reader.
    """
    pending = [root]
    while pending:
        directory = pending.pop()
        with os.scandir(directory) as scan:
            children = sorted(scan, key=lambda child: child.name)
        subdirectories = []
        for child in children:
            if child.is_symlink():
                continue
            if child.is_dir():
                subdirectories.append(Path(child.path))
            elif child.is_file():
                with open(child.path, "rb") as stream:
                    if stream.read(len(ELF_MAGIC)) == ELF_MAGIC:
                        yield Path(child.path)
        # Reversed onto the stack so directories come out in sorted order.
        pending += reversed(subdirectories)
