"""Targets, locks and lib folders built as plain values, for unit tests of the
checks and the candidate policy (no preset file, no capture, no index)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.tags import Tag

from bundler.lock.model import Lock, LockedPackage
from bundler.target.manifest import InstalledDist, Manifest
from bundler.target.model import Target, default_markers

#: The tags of the unit target, best first: one CPython 3.12 manylinux wheel tag and pure Python.
TAGS = (
    Tag("cp312", "cp312", "manylinux_2_28_x86_64"),
    Tag("cp312", "cp312", "manylinux_2_17_x86_64"),
    Tag("cp312", "abi3", "manylinux_2_17_x86_64"),
    Tag("py3", "none", "any"),
)


def make_target(**changes: Any) -> Target:
    """A CPython 3.12 glibc 2.35 x86_64 target without CUDA, with ``changes`` applied."""
    base = Target(
        name="unit",
        description="a target made in a test",
        sources=("test",),
        implementation="cpython",
        python_full_version="3.12.1",
        abi="cp312",
        os="linux",
        arch="x86_64",
        libc="glibc",
        glibc="2.35",
        tags=TAGS,
        markers=default_markers("3.12.1", "x86_64"),
        cuda=None,
    )
    return replace(base, **changes)


def manifest(**versions: str | None) -> Manifest:
    """An installed list from ``name=version`` (underscores in names become dashes)."""
    return {
        name.replace("_", "-"): InstalledDist(name.replace("_", "-"), version)
        for name, version in versions.items()
    }


def make_lock(
    *packages: LockedPackage, target: Target | None = None, requirements: tuple[str, ...] = ("app",)
) -> Lock:
    """A lock of ``packages`` made for ``target`` (the unit target by default)."""
    target = target or make_target()
    return Lock(
        target_name=target.name,
        target_fingerprint=target.fingerprint,
        requires_python="==3.12.*",
        marker="",
        requirements=requirements,
        packages=tuple(sorted(packages, key=lambda p: p.name)),
        kbundle_version="0.0.0",
    )


def add_dist(
    lib: Path,
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
    tag: str | None = "py3-none-any",
    record: tuple[str, ...] = (),
) -> str:
    """Write the ``.dist-info`` of ``name`` into ``lib``; its folder name."""
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    info = lib / dist_info
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    if tag is not None:
        (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n")
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in record))
    return dist_info
