"""Wheel tags for a target interpreter that is not the running one.

``packaging.tags.sys_tags()`` only describes the running interpreter. kbundle
needs the same ordered list for an image it cannot run, so this module
rebuilds the platform part from facts (architecture, glibc or musl version)
and hands it to ``packaging.tags.cpython_tags`` / ``compatible_tags`` with the
target's Python version and ABIs — the exact functions ``sys_tags`` uses.

One deliberate difference: ``linux_<arch>`` comes *after* every manylinux and
musllinux tag. packaging 26.3 started ranking it first because on a build
machine a ``linux_*`` wheel was probably built right there; for a *target*
image a ``linux_*`` wheel from an index was built somewhere else, so the
portable manylinux wheel is the safer choice and ``linux_*`` is a last resort
(the order pip used for years).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from packaging.tags import Tag, compatible_tags, cpython_tags

# Oldest glibc a manylinux tag is generated for, per architecture family:
# x86 wheels go back to manylinux1 (glibc 2.5); everything else starts at
# manylinux2014 (glibc 2.17). Same bounds as packaging._manylinux.
_OLDEST_GLIBC_MINOR_X86 = 5
_OLDEST_GLIBC_MINOR_OTHER = 17

# PEP 600 aliases for the glibc versions the legacy tags stood for.
_LEGACY_MANYLINUX = {5: "manylinux1", 12: "manylinux2010", 17: "manylinux2014"}


def parse_libc_version(text: str) -> tuple[int, int]:
    """``"2.35"`` → ``(2, 35)``; raises ``ValueError`` on anything else."""
    major, _, minor = text.strip().partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise ValueError(f"expected a version such as 2.35, got {text!r}")
    return int(major), int(minor)


def _arch_family(arch: str) -> list[str]:
    # A 32-bit ARM userland on an armv8l kernel also runs armv7l wheels.
    return ["armv8l", "armv7l"] if arch == "armv8l" else [arch]


def manylinux_platforms(arch: str, glibc: tuple[int, int]) -> Iterator[str]:
    """manylinux tags from the newest glibc the target has down to the oldest."""
    major, newest_minor = glibc
    if major != 2:
        # glibc has been 2.x forever; a 3.x would need the last-2.x table
        # packaging keeps, which cannot be known in advance.
        raise ValueError(f"unsupported glibc major version {major}")
    for family_arch in _arch_family(arch):
        oldest = (
            _OLDEST_GLIBC_MINOR_X86
            if family_arch in ("x86_64", "i686")
            else _OLDEST_GLIBC_MINOR_OTHER
        )
        for minor in range(newest_minor, oldest - 1, -1):
            yield f"manylinux_2_{minor}_{family_arch}"
            legacy = _LEGACY_MANYLINUX.get(minor)
            if legacy:
                yield f"{legacy}_{family_arch}"


def musllinux_platforms(arch: str, musl: tuple[int, int]) -> Iterator[str]:
    """musllinux tags from the target's musl minor version down to 0."""
    major, newest_minor = musl
    for family_arch in _arch_family(arch):
        for minor in range(newest_minor, -1, -1):
            yield f"musllinux_{major}_{minor}_{family_arch}"


def linux_platforms(arch: str, libc: str, libc_version: tuple[int, int] | None) -> list[str]:
    """All platform tags of a Linux target, best first, ``linux_<arch>`` last."""
    platforms: list[str] = []
    if libc_version is not None:
        if libc == "glibc":
            platforms.extend(manylinux_platforms(arch, libc_version))
        elif libc == "musl":
            platforms.extend(musllinux_platforms(arch, libc_version))
        else:
            raise ValueError(f"unknown libc {libc!r} (expected glibc or musl)")
    platforms.extend(f"linux_{a}" for a in _arch_family(arch))
    return platforms


def interpreter_tags(
    python_version: tuple[int, int], abis: Sequence[str], platforms: Sequence[str]
) -> list[Tag]:
    """The ordered tags a CPython of ``python_version`` supports, as sys_tags orders them."""
    nodot = f"{python_version[0]}{python_version[1]}"
    tags = list(cpython_tags(python_version, list(abis), platforms))
    tags.extend(compatible_tags(python_version, f"cp{nodot}", platforms))
    return tags
