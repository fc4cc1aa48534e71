"""Candidates for the resolver and why each index file is or is not one.

Pure policy: given a target and the files an index lists for a project,
decide which files may be installed there, which is best per version, and
give every rejected file a reason the user can act on.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName
from packaging.version import Version

from bundler.index.simple_api import Link
from bundler.target.cuda import (
    CudaVersion,
    driver_can_run,
    implied_variant,
    project_cuda_major,
    variant_rank,
)
from bundler.target.manifest import InstalledDist
from bundler.target.model import Target

Kind = Literal["image", "wheel", "sdist"]


@dataclass(frozen=True)
class Candidate:
    """One concrete choice for a project: the image's copy, a wheel or an sdist.

    ``extras`` is non-empty for the extras variant of a candidate (resolvelib
    sees ``name[extra]`` as its own identifier that depends on the base).
    """

    name: NormalizedName
    version: Version
    kind: Kind
    link: Link | None = None
    installed: InstalledDist | None = field(default=None, compare=False)
    extras: frozenset[str] = frozenset()

    @property
    def source(self) -> Literal["image", "vendor", "build"]:
        return {"image": "image", "wheel": "vendor", "sdist": "build"}[self.kind]  # type: ignore[return-value]

    def with_extras(self, extras: frozenset[str]) -> Candidate:
        return Candidate(self.name, self.version, self.kind, self.link, self.installed, extras)

    def __str__(self) -> str:
        where = {"image": " (image)", "wheel": "", "sdist": " (sdist)"}[self.kind]
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras} {self.version}{where}"


@dataclass(frozen=True)
class Rejection:
    """A file that cannot be used on the target, and why."""

    filename: str
    reason: str
    version: Version | None = None
    #: One of "cuda", "python", "tag", "source", "yanked": what to summarise by.
    kind: str = "tag"


@dataclass(frozen=True)
class Offer:
    """What an index offers for one project on a target, best first."""

    candidates: tuple[Candidate, ...]
    rejected: tuple[Rejection, ...]
    yanked: tuple[Candidate, ...] = ()


def _major_runs(major: int, target: Target) -> bool:
    # Only a GPU target can refuse a CUDA major: on a CPU target CUDA libraries
    # are inert files (PyPI's torch pulls nvidia-*-cu12 wheels even there).
    return target.cuda is None or driver_can_run(CudaVersion(major, 0), target.cuda)


def tag_ranks(tags: Sequence[Tag]) -> dict[Tag, int]:
    """Tag → position (0 is best) for fast lookups while ranking wheels."""
    ranks: dict[Tag, int] = {}
    for i, tag in enumerate(tags):
        ranks.setdefault(tag, i)
    return ranks


def python_ok(requires_python: str | None, target: Target) -> bool | None:
    """Does the target's Python satisfy ``requires_python``? None if unparseable."""
    if not requires_python:
        return True
    return _python_ok(requires_python, target.python_full_version)


@functools.lru_cache(maxsize=4096)
def _python_ok(requires_python: str, python: str) -> bool | None:
    # A project's files repeat the same few Requires-Python strings thousands
    # of times over a rich resolution: parse each once.
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return None
    return spec.contains(python, prereleases=True)


def build_offer(
    name: NormalizedName,
    links: Iterable[Link],
    target: Target,
    ranks: dict[Tag, int],
    *,
    may_build: bool,
) -> Offer:
    """Rank ``links`` for ``target``: one candidate per version, best first.

    Per version the best wheel (by tag rank) wins; an sdist is a candidate only
    when there is no usable wheel of that version and building is allowed
    (otherwise it is a rejection saying so). Yanked files are kept apart: the
    resolver offers them only to an ``==`` pin (PEP 592).
    """
    best: dict[Version, tuple[tuple[int, int], Link]] = {}
    yanked_best: dict[Version, tuple[tuple[int, int], Link]] = {}
    rejected: list[Rejection] = []
    pinned_major = project_cuda_major(name)
    for link in links:
        if link.project != name:
            continue
        key = _file_key(link, target, ranks, may_build=may_build, pinned_major=pinned_major)
        if isinstance(key, Rejection):
            rejected.append(key)
            continue
        pool = yanked_best if link.is_yanked else best
        if link.version not in pool or key < pool[link.version][0]:
            pool[link.version] = (key, link)

    def ordered(pool: dict[Version, tuple[tuple[int, int], Link]]) -> tuple[Candidate, ...]:
        def sort_key(version: Version) -> tuple[Version, tuple[int, int], Version]:
            variant = variant_rank(implied_variant(name, version), target.cuda) or (0, 0)
            return (Version(version.public), variant, version)

        return tuple(
            Candidate(name, v, "wheel" if pool[v][1].is_wheel else "sdist", pool[v][1])
            for v in sorted(pool, key=sort_key, reverse=True)
        )

    # A version with a good file is not yanked as a whole (PEP 592 yanks files).
    for version in list(yanked_best):
        if version in best:
            del yanked_best[version]
    for _, link in yanked_best.values():
        rejected.append(_reject(link, "yanked", f"yanked ({link.yanked or 'no reason given'})"))
    return Offer(ordered(best), tuple(rejected), ordered(yanked_best))


def _file_key(
    link: Link,
    target: Target,
    ranks: dict[Tag, int],
    *,
    may_build: bool,
    pinned_major: int | None,
) -> tuple[int, int] | Rejection:
    """How good ``link`` is for ``target`` (lower is better: wheels by tag rank,
    then an sdist to build), or why it cannot be used at all."""
    if pinned_major is not None and not _major_runs(pinned_major, target):
        return _reject(
            link,
            "cuda",
            f"{link.project} is built for CUDA {pinned_major}, which the target's "
            f"driver ({_driver(target)}) cannot run",
        )
    variant = implied_variant(link.project, link.version)
    if variant_rank(variant, target.cuda) is None:
        return _reject(
            link,
            "cuda",
            f"built for {variant}, which the target's driver ({_driver(target)}) cannot run",
        )
    if python_ok(link.requires_python, target) is False:
        return _reject(
            link,
            "python",
            f"requires Python {link.requires_python}; the target has {target.python_full_version}",
        )
    if link.is_wheel:
        rank = min((ranks[t] for t in link.tags if t in ranks), default=None)
        if rank is None:
            tags = ", ".join(sorted(str(t) for t in link.tags))
            return _reject(link, "tag", f"no tag the target supports ({tags})")
        return (0, rank)
    if may_build:
        return (1, 0)
    return _reject(link, "source", "source only, and building is not allowed")


def _driver(target: Target) -> str:
    # Only for a rejection's reason: _file_key runs for every file of every page.
    return f"CUDA {target.cuda.driver_max if target.cuda else '?'}"


def _reject(link: Link, kind: str, reason: str) -> Rejection:
    return Rejection(link.filename, version=link.version, kind=kind, reason=reason)
