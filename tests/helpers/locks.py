"""Locks built by hand: a small complete one for the lock-file tests, and locks of
local files for the in-process vendor tests (no resolver in either)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

from packaging.markers import Environment
from packaging.tags import Tag

from bundler.lock.model import Artifact, Lock, LockedPackage
from bundler.lock.pylock_write import render_lock
from bundler.target.model import Target, default_markers
from bundler.toml_table import parse_toml

SRC = "pylock.toml"
FILES = "https://files.example.org/packages"
MARKER = (
    'sys_platform == "linux" and platform_machine == "x86_64" and python_full_version == "3.11.13"'
)
TARGET_TAGS = [
    Tag("cp311", "cp311", "manylinux_2_28_x86_64"),
    Tag("cp311", "cp311", "manylinux_2_17_x86_64"),
    Tag("cp311", "abi3", "manylinux_2_17_x86_64"),
    Tag("py3", "none", "any"),
]


def sha(char: str) -> str:
    """A fake sha256 digest: ``char`` 64 times."""
    return char * 64


def wheel(filename: str, digest: str, upload_time: str | None = None) -> Artifact:
    """A file on the test file host (wheel or sdist, as the name says)."""
    return Artifact(f"{FILES}/{filename}", filename, digest, 1000 + len(filename), upload_time)


def make_lock(**changes: Any) -> Lock:
    """A small but complete closure: image, vendored, shadowing and built packages."""
    packages = (
        LockedPackage(
            "matplotlib",
            "3.9.0",
            "vendor",
            wheel=wheel(
                "matplotlib-3.9.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                sha("1"),
                "2024-05-15T23:37:48.123456Z",
            ),
            index="https://pypi.org/simple",
            requires_python=">=3.9",
            dependencies=("numpy", "pyparsing"),
            shadows="3.7.5",
        ),
        LockedPackage("numpy", "2.0.2", "image"),
        LockedPackage("pandas", "2.2.2", "image", dependencies=("numpy",)),
        LockedPackage(
            "pyparsing",
            "3.1.2",
            "vendor",
            wheel=wheel("pyparsing-3.1.2-py3-none-any.whl", sha("2"), "2024-03-06T06:30:27Z"),
            index="https://pypi.org/simple",
            requires_python=">=3.6.8",
        ),
        LockedPackage(
            "seaborn",
            "0.13.2",
            "vendor",
            wheel=wheel("seaborn-0.13.2-py3-none-any.whl", sha("3")),
            index="https://pypi.org/simple",
            dependencies=("matplotlib", "numpy", "pandas"),
        ),
        LockedPackage(
            "tinysrc",
            "1.0",
            "build",
            sdist=wheel("tinysrc-1.0.tar.gz", sha("4")),
            dependencies=("numpy",),
        ),
    )
    values: dict[str, Any] = {
        "target_name": "kaggle-cpu-2026",
        "target_fingerprint": "sha256:0123456789abcdef",
        "requires_python": "==3.11.13",
        "marker": MARKER,
        "requirements": ("seaborn>=0.13", "tinysrc"),
        "packages": packages,
        "kbundle_version": "0.1.0",
        "extra": {"cuda-index": ["torch"], "resolved-with": "resolvelib"},
    }
    values.update(changes)
    return Lock(**values)


def loads(text: str) -> dict[str, Any]:
    """tomllib.loads (tomli on 3.10), as the project reads TOML."""
    return parse_toml(text.encode(), SRC)


def document(lock: Lock | None = None) -> dict[str, Any]:
    """The rendered lock (default: :func:`make_lock`), parsed back as TOML."""
    return loads(render_lock(lock or make_lock()))


def package(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``[[packages]]`` entry called ``name``."""
    return next(p for p in doc["packages"] if p["name"] == name)


def target_environment() -> Environment:
    """The PEP 508 environment of the target :func:`make_lock` is for."""
    return cast(Environment, default_markers("3.11.13", "x86_64"))


def vendored_package(name: str = "six", **changes: Any) -> LockedPackage:
    """A vendored package with one wheel, ``changes`` applied."""
    values: dict[str, Any] = {
        "name": name,
        "version": "1.16.0",
        "source": "vendor",
        "wheel": wheel(f"{name}-1.16.0-py3-none-any.whl", sha("a")),
    }
    values.update(changes)
    return LockedPackage(**values)


def artifact(path: Path) -> Artifact:
    """The lock's entry for a local file: its ``file://`` URL, sha256 and size."""
    data = path.read_bytes()
    return Artifact(path.as_uri(), path.name, hashlib.sha256(data).hexdigest(), len(data))


def lock_of(target: Target, *packages: LockedPackage) -> Lock:
    """A lock for ``target`` of exactly ``packages``; the non-image ones are its requirements."""
    return Lock(
        target_name=target.name,
        target_fingerprint=target.fingerprint,
        requires_python="==3.12.*",
        marker="",
        requirements=tuple(p.name for p in packages if p.source != "image"),
        packages=tuple(sorted(packages, key=lambda p: p.name)),
        kbundle_version="0.1.0",
    )
