"""What a lock holds, as plain values: the resolver makes them, the lock file
writer renders them, vendor and check read them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Source = Literal["image", "vendor", "build"]


@dataclass(frozen=True)
class Artifact:
    """One file to download: a wheel, or the sdist of a package to build."""

    url: str
    filename: str
    sha256: str | None
    size: int | None
    upload_time: str | None = None  # RFC 3339, as PEP 700 indexes give it


@dataclass(frozen=True)
class LockedPackage:
    """One distribution of the final environment.

    ``source`` says where it comes from on the target: ``image`` (already
    installed there; nothing to fetch), ``vendor`` (a wheel to install into
    lib/) or ``build`` (an sdist to build into a wheel). ``dependencies`` are
    the canonical names of the locked packages it requires on the target.
    ``shadows`` is the image's version this package replaces, if any.
    """

    name: str
    version: str
    source: Source
    wheel: Artifact | None = None
    sdist: Artifact | None = None
    index: str | None = None
    requires_python: str | None = None
    dependencies: tuple[str, ...] = ()
    shadows: str | None = None


@dataclass(frozen=True)
class Lock:
    """A resolved closure for one target.

    ``requirements`` are the user's top-level requirement strings,
    ``packages`` every distribution of the final environment that the
    requirements reach (image ones included, with ``source="image"``), sorted
    by name. ``marker`` is a PEP 508 expression true only on the target, for
    PEP 751 ``environments``.
    """

    target_name: str
    target_fingerprint: str
    requires_python: str
    marker: str
    requirements: tuple[str, ...]
    packages: tuple[LockedPackage, ...]
    kbundle_version: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def vendored(self) -> tuple[LockedPackage, ...]:
        return tuple(p for p in self.packages if p.source != "image")

    @property
    def image(self) -> tuple[LockedPackage, ...]:
        return tuple(p for p in self.packages if p.source == "image")

    @property
    def vendor_bytes(self) -> int:
        """Bytes of the files the lock downloads (wheels, and sdists to build).

        A file whose size the index did not give counts 0.
        """
        return sum((artifact.size or 0) for p in self.vendored if (artifact := p.wheel or p.sdist))
