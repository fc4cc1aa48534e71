"""Background fetching of what the resolver will probably ask for next.

resolvelib asks for one project at a time; waiting on each page and each
metadata file in turn would make a cold lock a long chain of round trips.
When the provider learns a candidate's dependencies it *hints* them; this
wrapper then fetches their project pages and the metadata of the file the
provider would pick, on a thread pool, so the answers are usually ready (in
the finder's memo and disk cache) by the time they are asked for.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from packaging.utils import NormalizedName

from bundler.background import DaemonPool
from bundler.errors import KbundleError
from bundler.index.finder import Finder
from bundler.index.simple_api import Link
from bundler.resolve.source import Chooser

log = logging.getLogger(__name__)


class PrefetchingSource:
    """A :class:`~bundler.resolve.source.PackageSource` over a finder, warmed by hints."""

    def __init__(self, finder: Finder, workers: int = 16) -> None:
        self.finder = finder
        self._pool = DaemonPool(workers, "kbundle-prefetch")
        self._seen: set[tuple[NormalizedName, str]] = set()
        self._links: set[str] = set()
        self._lock = threading.Lock()

    def files(self, name: NormalizedName) -> Sequence[Link]:
        return self.finder.files(name)

    def metadata(self, link: Link) -> bytes | None:
        return self.finder.metadata(link)

    def prefetch(self, links: Sequence[Link]) -> None:
        for link in links:
            key = link.sha256 or link.url
            with self._lock:
                if key in self._links:
                    continue
                self._links.add(key)
            self._pool.submit(self._warm_link, link)

    def _warm_link(self, link: Link) -> None:
        try:
            self.finder.metadata(link)
        except KbundleError as exc:
            log.debug("prefetch of %s failed: %s", link.filename, exc)

    def unreachable(self, name: NormalizedName) -> Sequence[str]:
        return self.finder.unreachable.get(name, ())

    def prepared_metadata(self, link: Link) -> bytes:
        with tempfile.TemporaryDirectory(prefix="kbundle-sdist-") as tmp:
            sdist = self.finder.download(link, Path(tmp))
            # The build stage loads only for an sdist whose metadata is dynamic.
            from bundler.build.builder import prepare_metadata

            return prepare_metadata(sdist, link.sha256 or link.url)

    def hint(self, wants: Iterable[tuple[NormalizedName, str, Chooser]]) -> None:
        for name, key, choose in wants:
            # Once per (name, specifier): another requirement on the same name
            # may want another version's metadata; the finder's memo makes a
            # repeated page or file free.
            with self._lock:
                if (name, key) in self._seen:
                    continue
                self._seen.add((name, key))
            self._pool.submit(self._warm, name, choose)

    def _warm(self, name: NormalizedName, choose: Chooser) -> None:
        try:
            link = choose(self.finder.files(name))
            if link is not None:
                self.finder.metadata(link)
        except KbundleError as exc:
            # The resolver asks again and reports it properly if it matters.
            log.debug("prefetch of %s failed: %s", name, exc)

    def close(self) -> None:
        self._pool.shutdown()

    def __enter__(self) -> PrefetchingSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
