"""What one lock is asked to do: the caller's options, and the merged request.

:class:`LockOptions` is what a caller says directly (the command line's
options, or an API caller's arguments); :class:`LockRequest` is everything
:func:`~bundler.lock.run.run_lock` needs, after
:func:`~bundler.request.assemble.gather_request` has merged the options over
requirement files, ``[tool.kbundle]`` and pip's configuration and checked
them. Values and pure comparisons only: reading files and checking input
happen in :mod:`.assemble`, resolving in :mod:`bundler.lock.run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement

if TYPE_CHECKING:
    # Types only: the request is plain data, and importing it must not load
    # the index or lock machinery its fields come from.
    from packaging.utils import NormalizedName

    from bundler.lock.model import Lock
    from bundler.request.index_config import IndexConfig
    from bundler.request.requirements_file import Req
    from bundler.target.model import Target


@dataclass(frozen=True)
class LockOptions:
    """What the caller asks for directly; it beats every other source.

    The fields are the options ``kbundle lock`` and ``kbundle vendor`` share,
    as typed (names not yet canonical, paths as given): ``target`` and
    ``manifest`` choose the image (``preloaded``: its preloaded packages as
    comma-separated names), the index fields where files come from, and the
    rest how to resolve. Requirements themselves are passed beside it.
    """

    target: str | None = None
    manifest: Path | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    cuda_indexes: tuple[str, ...] = ()
    offline: bool = False
    refresh: bool = False
    requirement_files: tuple[Path, ...] = ()
    constraint_files: tuple[Path, ...] = ()
    build: tuple[str, ...] = ()
    pre: bool = False
    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    preloaded: str | None = None
    # image scope (issue 9)
    keep: tuple[str, ...] = ()
    strict_image: bool = False


@dataclass(frozen=True)
class LockRequest:
    """Everything one lock needs, already validated by the caller."""

    target: Target
    requirements: Sequence[Req]
    index: IndexConfig
    constraints: Sequence[Req] = ()
    build: frozenset[str] = frozenset()
    pre: bool = False
    offline: bool = False
    refresh: bool = False
    previous: Lock | None = None
    upgrade: bool = False
    upgrade_packages: frozenset[str] = field(default_factory=frozenset)
    keep: frozenset[NormalizedName] = frozenset()
    strict_image: bool = False
    #: Command-line words that name this request's target (``--target X``),
    #: repeated in the commands a report suggests.
    target_options: tuple[str, ...] = ()

    def requirement_change(self, lock: Lock) -> tuple[list[str], list[str]]:
        """The requirements this request adds to ``lock``'s, and those it drops (sorted).

        Parsed before comparing, so ``Foo>=1,<2`` and ``foo<2,>=1`` are the same.
        """
        old = {_parsed(text) for text in lock.requirements}
        new = {r.requirement for r in self.requirements}
        return sorted(str(r) for r in new - old), sorted(str(r) for r in old - new)

    def locked_for_other(self, lock: Lock) -> bool:
        """Was ``lock`` made for other requirements than this request's?"""
        added, removed = self.requirement_change(lock)
        return bool(added or removed)


def _parsed(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement:  # parse_lock refuses these; compare as never equal
        return Requirement("invalid-requirement-in-lock")
