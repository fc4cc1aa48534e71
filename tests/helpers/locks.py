"""Locks built by hand for in-process vendor tests: local files, no resolver."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from bundler.lock.model import Artifact, Lock, LockedPackage

if TYPE_CHECKING:
    from pathlib import Path

    from bundler.target.model import Target


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
