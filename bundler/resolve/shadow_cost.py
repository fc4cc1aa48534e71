"""What shadowing a large image package costs, and the lock that avoids it.

When a lock vendors its own torch (tensorflow, jax, or anything over
:data:`LARGE_BYTES`) over the image's, the user pays hundreds of megabytes and
a second copy of the framework. The summary says so, and, by resolving again
with the image's copy kept (``--keep NAME``), which version of the requesting
package works with the image's copy — or why none does.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from packaging.utils import NormalizedName

from bundler.errors import KbundleError
from bundler.resolve.shadowing import reachable
from bundler.resolve.solve import Resolution
from bundler.target.model import Target

#: Frameworks that are large whatever their wheel says.
LARGE_PROJECTS = frozenset({"torch", "tensorflow", "tensorflow-cpu", "jax", "jaxlib"})
#: Bytes of a wheel (the index's, or the image release's recorded one) that
#: make a shadowed package large. Installed sizes are larger still.
LARGE_BYTES = 100_000_000
#: Alternatives computed per lock (each is one more resolution).
MAX_ALTERNATIVES = 3


@dataclass(frozen=True)
class Alternative:
    """The lock with the image's copy kept: the requester's version, or why none."""

    requester: str
    version: str | None
    vendor_bytes: int | None
    command: str
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "requester": self.requester,
            "version": self.version,
            "vendor_bytes": self.vendor_bytes,
            "command": self.command,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ShadowCost:
    """A large image package the lock shadows, and what that adds."""

    name: str
    version: str
    image_version: str
    #: Bytes of the vendored wheel, of its followers and of the large packages
    #: only it pulls in (``along``).
    bytes: int
    along: tuple[str, ...]
    requested_by: tuple[str, ...]
    alternative: Alternative | None
    #: Bytes the whole lock vendors, to compare with the alternative's.
    lock_bytes: int = 0

    def sentence(self) -> str:
        along = f" with {', '.join(self.along)}" if self.along else ""
        text = (
            f"{self.name} {self.version} is vendored over the image's {self.image_version}{along}: "
            f"{_mb(self.bytes)} more to ship (requested by {', '.join(self.requested_by)})"
        )
        alt = self.alternative
        if alt is None:
            return text
        if alt.version is None:
            return f"{text}; no {alt.requester} works with the image's {self.name}: {alt.reason}"
        saved = ""
        if alt.vendor_bytes is not None:
            saved = f" (the lock vendors {_mb(alt.vendor_bytes)}, not {_mb(self.lock_bytes)})"
        return (
            f"{text}; {alt.requester} {alt.version} works with the image's {self.name}"
            f"{saved}: `{alt.command}`"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "image_version": self.image_version,
            "bytes": self.bytes,
            "along": list(self.along),
            "requested_by": list(self.requested_by),
            "alternative": self.alternative.to_json() if self.alternative else None,
            "lock_bytes": self.lock_bytes,
        }


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size < 1e9 else f"{size / 1e9:.1f} GB"


def _size(resolution: Resolution, name: NormalizedName) -> int:
    c = resolution.chosen[name]
    return (c.link.size or 0) if c.link is not None else 0


def vendored_bytes(resolution: Resolution) -> int:
    return sum(_size(resolution, n) for n, c in resolution.chosen.items() if c.kind != "image")


def shadow_costs(
    target: Target,
    resolution: Resolution,
    requirements: Sequence[str],
    *,
    resolve_keeping: Callable[[NormalizedName], Resolution],
    keep: Sequence[str] = (),
    options: Sequence[str] = (),
) -> list[ShadowCost]:
    """The large shadowed packages of ``resolution``, largest first.

    ``resolve_keeping(name)`` resolves the same request with the image's
    ``name`` kept (it may raise :class:`~bundler.errors.KbundleError`);
    ``options`` are command-line words the suggested command repeats
    (``--target kaggle-t4``).
    """
    shadowed = {
        n: c for n, c in resolution.chosen.items() if c.kind != "image" and n in target.installed
    }

    def is_large(name: NormalizedName) -> bool:
        size = max(_size(resolution, name), target.installed_size(name) or 0)
        return name in LARGE_PROJECTS or size > LARGE_BYTES

    large = [n for n in shadowed if is_large(n)]
    parents: dict[NormalizedName, set[NormalizedName]] = {}
    for parent, children in resolution.dependencies.items():
        for child in children:
            parents.setdefault(child, set()).add(parent)
    # A large package pulled in by another large one is part of that one's cost.
    heads = [n for n in large if not parents.get(n, set()) & set(large)]
    roots = {r.name for r in resolution.roots}
    costs: list[ShadowCost] = []
    for head in sorted(heads, key=lambda n: -_size(resolution, n)):
        along = sorted(n for n in large if n != head and head in parents.get(n, set()))
        followers = sorted(d for d, b in resolution.followers.items() if b.shadowed == head)
        total = sum(_size(resolution, n) for n in {head, *along, *followers})
        requested_by = sorted(
            r for r in roots if head in reachable([r], lambda n: resolution.dependencies.get(n, ()))
        )
        alternative = None
        if head not in roots and requested_by and len(costs) < MAX_ALTERNATIVES:
            alternative = _alternative(
                head, requested_by[0], [*requirements, *options], keep, resolve_keeping
            )
        costs.append(
            ShadowCost(
                name=head,
                version=str(shadowed[head].version),
                image_version=target.installed[head].version or "?",
                bytes=total,
                along=tuple(along + [f for f in followers if f not in along]),
                requested_by=tuple(requested_by),
                alternative=alternative,
                lock_bytes=vendored_bytes(resolution),
            )
        )
    return costs


def _alternative(
    name: NormalizedName,
    requester: str,
    arguments: Sequence[str],
    keep: Sequence[str],
    resolve_keeping: Callable[[NormalizedName], Resolution],
) -> Alternative:
    words = ["kbundle", "lock", *arguments]
    for kept in (*keep, name):
        words += ["--keep", kept]
    command = shlex.join(words)
    try:
        other = resolve_keeping(name)
    except KbundleError as exc:
        # No such version (ResolutionFailed), or the index failed on the way:
        # either way the lock itself stands, and the summary says why.
        return Alternative(requester, None, None, command, reason=exc.message)
    chosen = other.chosen.get(NormalizedName(requester))
    version = str(chosen.version) if chosen is not None else None
    return Alternative(requester, version, vendored_bytes(other), command)
