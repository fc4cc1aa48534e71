"""The target environment: one frozen value describing where the code will run.

Everything downstream (resolution, wheel choice, CUDA matching, checks) reads
the target, never the host. It is built from a preset, a captured TOML file or
a pex complete-platform JSON file by :mod:`bundler.target.file`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from packaging.markers import Marker
from packaging.tags import Tag
from packaging.utils import canonicalize_name

from bundler.target.manifest import Manifest

_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Cuda:
    """What the image can run on the GPU.

    ``runtime`` is the CUDA toolkit/runtime version installed in the image
    (``"12.8"``), ``driver_max`` the highest CUDA version the host driver
    supports (what ``nvidia-smi`` prints as "CUDA Version"), ``archs`` the GPU
    compute capabilities (``"7.5"`` for a T4). Any may be unknown.
    """

    runtime: str | None
    driver_max: str | None
    archs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "driver_max": self.driver_max, "archs": list(self.archs)}


@dataclass(frozen=True)
class IndexFacts:
    """What the index says about the release an image package is at.

    Presets ship these (``<preset>.image-requires.json``, made by
    ``tools/image_requires.py``) so a lock need not fetch the metadata of
    hundreds of image packages. ``requires`` is the Requires-Dist of the
    index's wheel of ``version`` (None: unknown), ``wheel_size`` its bytes.
    """

    version: str
    requires: tuple[str, ...] | None
    wheel_size: int | None = None


@dataclass(frozen=True)
class Target:
    """A complete description of a target image.

    ``tags`` is ordered best first (see :mod:`bundler.target.tags`); ``markers`` is
    a full PEP 508 environment; ``installed`` maps canonical names to what the
    image has; ``preloaded`` lists distributions whose modules the host
    process imports before user code runs, so they can never be shadowed.
    ``partial`` says the installed list is known to be incomplete.
    ``index_facts`` holds what the index says about the installed releases
    (see :class:`IndexFacts`); it is looked-up data, not a fact of the image,
    so it is left out of the fingerprint.
    ``unpacked_size_limit`` is the most bytes the deployed files may take
    once unpacked (AWS Lambda's 250 MB), None when the platform sets none;
    ``kbundle check`` and ``kbundle pack`` enforce it.
    """

    name: str
    description: str
    sources: tuple[str, ...]
    implementation: str
    python_full_version: str
    abi: str
    os: str
    arch: str
    libc: str
    glibc: str | None
    tags: tuple[Tag, ...]
    markers: Mapping[str, str]
    cuda: Cuda | None
    installed: Manifest = field(default_factory=dict)
    provided_libraries: tuple[str, ...] = ()
    preloaded: tuple[str, ...] = ()
    partial: bool = False
    index_facts: Mapping[str, IndexFacts] = field(default_factory=dict)
    unpacked_size_limit: int | None = None

    @property
    def python_version(self) -> tuple[int, int]:
        major, minor = self.python_full_version.split(".")[:2]
        return int(major), int(minor)

    def marker_true(self, marker: Marker | None, extra: str = "") -> bool:
        """Is ``marker`` true on this target (never the host) when ``extra`` is requested?

        The one place a marker meets an environment. ``None`` (no marker) is true.
        ``extra=""`` means "no extra requested", so ``extra == "x"`` is false; a
        caller resolving extras asks once per extra. :attr:`markers` is a full
        PEP 508 environment, so none of packaging's host defaults shows through.
        """
        return marker is None or marker.evaluate({**self.markers, "extra": extra})

    def recorded_requires(self, name: str) -> tuple[str, ...] | None:
        """The image's requirements of ``name`` when known without the network:
        captured from the image, else the preset's index facts for that version."""
        dist = self.installed.get(name)
        if dist is None:
            return None
        if dist.requires is not None:
            return dist.requires
        facts = self.index_facts.get(name)
        if facts is not None and facts.version == dist.version:
            return facts.requires
        return None

    def requirers(self, name: str) -> frozenset[str]:
        """Image packages whose recorded requirements name ``name`` (no parsing:
        the name of a requirement string is its first token)."""
        return self._requirers.get(name, frozenset())

    @cached_property
    def _requirers(self) -> dict[str, frozenset[str]]:
        index: dict[str, set[str]] = {}
        for owner in self.installed:
            for text in self.recorded_requires(owner) or ():
                match = _REQUIREMENT_NAME.match(text)
                if match:
                    index.setdefault(canonicalize_name(match.group(1)), set()).add(owner)
        return {name: frozenset(owners) for name, owners in index.items()}

    def installed_size(self, name: str) -> int | None:
        """The wheel size of the image's release of ``name``, when recorded."""
        dist = self.installed.get(name)
        facts = self.index_facts.get(name)
        if dist is None or facts is None or facts.version != dist.version:
            return None
        return facts.wheel_size

    def with_installed(self, installed: Manifest, source: str) -> Target:
        """This target with its installed list replaced (``--manifest``)."""
        return replace(
            self, installed=dict(installed), sources=(*self.sources, source), partial=False
        )

    def fact_dict(self) -> dict[str, Any]:
        """Everything that decides what runs on the target (no name or prose)."""
        return {
            "implementation": self.implementation,
            "python_full_version": self.python_full_version,
            "abi": self.abi,
            "os": self.os,
            "arch": self.arch,
            "libc": self.libc,
            "glibc": self.glibc,
            "platform_tags": [str(t) for t in self.tags],
            "markers": dict(sorted(self.markers.items())),
            "cuda": self.cuda.to_json() if self.cuda else None,
            "installed": {
                name: {
                    "version": dist.version,
                    "requires": list(dist.requires) if dist.requires is not None else None,
                }
                for name, dist in sorted(self.installed.items())
            },
            "provided_libraries": sorted(self.provided_libraries),
            "preloaded": sorted(self.preloaded),
        }

    @cached_property
    def fingerprint(self) -> str:
        """A stable hash of :meth:`fact_dict`: equal facts, equal fingerprint.

        Name, description and sources are left out on purpose: renaming a
        target or citing another source does not change what runs there, so
        it must not invalidate locks or cached builds.
        """
        canonical = json.dumps(self.fact_dict(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    @cached_property
    def build_fingerprint(self) -> str:
        """A hash of the facts a source build depends on, and nothing else.

        Interpreter, ABI, platform, libc, wheel tags and CUDA decide what a
        build produces; the installed packages, markers such as the kernel
        release, and the preloaded list do not. Built wheels are cached under
        it, so a changed package list reuses them.
        """
        facts = self.fact_dict()
        for key in ("installed", "markers", "preloaded", "provided_libraries"):
            facts.pop(key)
        canonical = json.dumps(facts, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        """The ``kbundle target show --json`` document."""
        facts = self.fact_dict()
        facts["installed"] = {name: d.version for name, d in sorted(self.installed.items())}
        return {
            "name": self.name,
            "description": self.description,
            "sources": list(self.sources),
            **facts,
            "partial": self.partial,
            "unpacked_size_limit": self.unpacked_size_limit,
            "fingerprint": self.fingerprint,
        }


def default_markers(
    python_full_version: str, arch: str, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The PEP 508 environment of a CPython on Linux, with optional overrides.

    ``platform_release`` and ``platform_version`` (the kernel) cannot be known
    for an image that is not running; they default to ``""`` so a marker on
    them evaluates false rather than pretending. Captured targets carry the
    real values.
    """
    major, minor = python_full_version.split(".")[:2]
    markers = {
        "implementation_name": "cpython",
        "implementation_version": python_full_version,
        "os_name": "posix",
        "platform_machine": arch,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": python_full_version,
        "python_version": f"{major}.{minor}",
        "sys_platform": "linux",
    }
    markers.update(overrides or {})
    return markers
