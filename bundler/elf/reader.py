"""Read what a native library needs from the system it will load on.

A pure reader: a path goes in, an :class:`ElfInfo` comes out; nothing is
executed or written. ``kbundle check`` compares these
facts with the target image: the sonames a library links against (NEEDED),
where it looks for them (RPATH/RUNPATH), the newest glibc and libstdc++
symbol versions it requires (``.gnu.version_r``) and which GPU architectures
its embedded CUDA code was built for (the fatbin in ``.nv_fatbin``).

ELF structures are read with pyelftools, the same reader auditwheel uses. The
CUDA fatbin container is not ELF; :mod:`bundler.elf.fatbin` parses the bytes
of the section found here. Which of these facts a target satisfies is not
decided here: that is :mod:`bundler.check.native` and
:mod:`bundler.check.system_libs`.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, cast

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.dynamic import Dynamic, DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from bundler.elf.fatbin import MalformedFatbin, arch_sort_key, parse_fatbin

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
# ELF reading

# The loadable fatbin of a linked library or executable is ``.nv_fatbin``: the
# CUDA runtime registers it through ``.nvFatBinSegment``. ``__nv_relfatbin``
# holds relocatable device code (nvcc -rdc) kept for a later device link; in a
# linked library it is a leftover whose PTX never reaches the driver (seen
# with nvcc 13.0: -rdc with code=compute_75 leaves PTX only there). So it
# counts only in files without ``.nv_fatbin``: relocatable objects.
_FATBIN_SECTIONS = (".nv_fatbin", "__nv_relfatbin")


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

    sass, ptx, fatbin_error = _fatbin_archs(fatbins, data, path)
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
        cuda_sass_archs=sass,
        cuda_ptx_archs=ptx,
        fatbin_error=fatbin_error,
    )


def _fatbin_archs(
    fatbins: Mapping[str, tuple[int, int]], data: bytes | mmap.mmap, path: str
) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """(SASS archs, PTX archs, error) of the loadable one of ``fatbins`` (name → offset, size).

    A malformed fatbin gives no architectures and the reason, logged: the
    rest of the file is still worth reading.
    """
    name = next((name for name in _FATBIN_SECTIONS if name in fatbins), None)
    if name is None:
        return (), (), None
    offset, size = fatbins[name]
    try:
        entries = parse_fatbin(data, offset, offset + size)
    except MalformedFatbin as exc:
        error = f"{name}: {exc}"
        logger.warning("%s: malformed CUDA fatbin in %s", path, error)
        return (), (), error
    sass = {entry.arch for entry in entries if entry.kind == "sass"}
    ptx = {entry.arch for entry in entries if entry.kind == "ptx"}
    return tuple(sorted(sass, key=arch_sort_key)), tuple(sorted(ptx, key=arch_sort_key)), None


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
