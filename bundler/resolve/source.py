"""What the resolver asks of the outside world: project files and their metadata.

:class:`PackageSource` is the one seam between the pure provider and I/O. The
lock stage passes a prefetching finder over real indexes
(:class:`bundler.lock.prefetch.PrefetchingSource`); tests pass in-memory ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from packaging.utils import NormalizedName

from bundler.index.simple_api import Link

#: Picks, from a project's files, the one whose metadata the resolver will want.
Chooser = Callable[[Sequence[Link]], "Link | None"]


class PackageSource(Protocol):
    """Where the provider gets files and metadata (an index, a fake in tests)."""

    def files(self, name: NormalizedName) -> Sequence[Link]:
        """Every file the configured indexes offer for ``name`` (may be empty)."""

    def metadata(self, link: Link) -> bytes | None:
        """Core metadata of ``link``; None for an sdist whose metadata is dynamic."""

    def prepared_metadata(self, link: Link) -> bytes:
        """Core metadata of a dynamic sdist from its build backend (runs its code)."""

    def unreachable(self, name: NormalizedName) -> Sequence[str]:
        """Why indexes that ``name`` is pinned to could not be reached (empty: none)."""

    def prefetch(self, links: Sequence[Link]) -> None:
        """Metadata of ``links`` will probably be asked for soon (fetch it in the background)."""

    def hint(self, wants: Iterable[tuple[NormalizedName, str, Chooser]]) -> None:
        """Requirements the resolver will probably ask about next: a name, a key
        for the requirement's specifier and a chooser of the file whose metadata
        it will want (a cue to fetch both in the background, once per key)."""
