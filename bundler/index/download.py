"""Distribution files on disk: the verified download cache and copies out of it.

Downloads go through ``cache_dir()/files``: a file there is complete and
verified (keyed by the sha256 the index lists, so kept forever; a file
without one is keyed by URL and reused only offline), and an interrupted
download waits next to it as a ``.part`` file that the next attempt resumes
(see :meth:`bundler.net.client.HttpClient.fetch_file`). Which files exist
is :mod:`bundler.index.file_finder`'s business; this module only fetches the
links it is given.
"""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from bundler.cache import key_path
from bundler.errors import KbundleError, NetworkError
from bundler.net.urls import file_url_to_path, is_file_url

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path

    from bundler.index.simple_api import Link
    from bundler.net.client import HttpClient
    from bundler.net.download import Progress


class DownloadError(NetworkError):
    """Some files of a :meth:`Downloader.download_all` could not be downloaded.

    ``failures`` maps each failed link to its error (in the order asked);
    ``downloaded`` holds the files that did arrive, already in place.
    """

    def __init__(
        self, failures: Mapping[Link, KbundleError], downloaded: Mapping[Link, Path]
    ) -> None:
        # A hint shared by every failure (say, offline or no network) is
        # given once at the end; otherwise each line keeps its own.
        hints = {error.hint for error in failures.values()}
        shared = len(hints) == 1
        total = len(failures) + len(downloaded)
        lines = [f"{len(failures)} of {total} files could not be downloaded:"]
        lines += [
            f"  {link.filename}: {error.message if shared else error}"
            for link, error in failures.items()
        ]
        super().__init__("\n".join(lines), hint=hints.pop() if shared else None)
        self.failures = dict(failures)
        self.downloaded = dict(downloaded)


class Downloader:
    """Files of links, through the cache under ``cache_root``; thread-safe."""

    def __init__(self, client: HttpClient, *, cache_root: Path) -> None:
        self._client = client
        self._root = cache_root

    def cached_file(self, link: Link) -> Path | None:
        """The file of ``link`` if it is available without network I/O, else None.

        That is the cache entry of a file with a sha256 (written only once
        verified), a URL-keyed entry of a file without one only when offline
        (online such a file may have changed, so it is fetched again), and
        the local file itself for a ``file://`` link. Exactly when this is
        not None, :meth:`download` touches no network.
        """
        if is_file_url(link.url):
            path = file_url_to_path(link.url)
            return path if path.is_file() else None
        path = self._cache_path(link)
        if link.sha256 is None and not self._client.offline:
            return None
        return path if path.is_file() else None

    def into_cache(self, link: Link, progress: Progress | None = None) -> Path:
        """``link`` downloaded into the cache (verified when it has a sha256);
        its path there, or the local file of a ``file://`` link."""
        path = self.cached_file(link)
        if path is not None:
            if progress is not None:
                # One call with the whole size, so a progress bar completes.
                size = path.stat().st_size
                progress(size, size)
            return path
        path = self._cache_path(link)
        self._client.fetch_file(link.url, path, sha256=link.sha256, progress=progress)
        return path

    def download(self, link: Link, dest_dir: Path, *, progress: Progress | None = None) -> Path:
        """Place the file of ``link`` in ``dest_dir`` and return its path.

        Remote files are downloaded into the cache first (streamed, hashed,
        checked against the index's sha256 and resumed when interrupted)
        and then hard-linked, or copied, into ``dest_dir``, so a later
        offline run can still vendor them. A file already cached needs no
        network I/O (see :meth:`cached_file`). ``dest_dir`` only ever holds
        complete files. ``progress`` is called as bytes arrive (see
        :data:`bundler.net.download.Progress`); for a cached file, once with its size.
        """
        dest = dest_dir / link.filename
        if is_file_url(link.url):
            self._client.fetch_file(link.url, dest, sha256=link.sha256, progress=progress)
            return dest
        source = self.into_cache(link, progress)
        dest_dir.mkdir(parents=True, exist_ok=True)
        temporary = dest_dir / f".tmp-{os.getpid()}-{threading.get_ident()}-{link.filename}"
        temporary.unlink(missing_ok=True)
        try:
            os.link(source, temporary)
        except OSError:  # another file system, or no hard links there
            shutil.copyfile(source, temporary)
        temporary.replace(dest)
        return dest

    def download_all(
        self,
        links: Iterable[Link],
        dest_dir: Path,
        *,
        workers: int = 8,
        progress_factory: Callable[[Link], Progress | None] | None = None,
    ) -> dict[Link, Path]:
        """:meth:`download` every link into ``dest_dir`` in parallel; link → path.

        ``workers`` threads share the client's connection pool.
        ``progress_factory(link)`` gives each file its progress callback.
        Every download runs to its end even when others fail; then all the
        failures are raised together as one :class:`DownloadError` (which
        also lists the files that did arrive). An unexpected exception (a
        bug, not a :class:`~bundler.errors.KbundleError`) is re-raised as is.
        """
        pending = list(dict.fromkeys(links))  # one download per distinct link
        if not pending:
            return {}
        pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(pending))))
        try:
            futures = {
                link: pool.submit(
                    self.download,
                    link,
                    dest_dir,
                    progress=progress_factory(link) if progress_factory is not None else None,
                )
                for link in pending
            }
            wait(futures.values())
        except BaseException:
            # Ctrl-C: start nothing new. Running downloads finish their file
            # (threads cannot be stopped); a killed process leaves .part
            # files that the next run resumes.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        downloaded: dict[Link, Path] = {}
        failures: dict[Link, KbundleError] = {}
        for link, future in futures.items():
            error = future.exception()
            if error is None:
                downloaded[link] = future.result()
            elif isinstance(error, KbundleError):
                failures[link] = error
            else:
                raise error
        if failures:
            raise DownloadError(failures, downloaded)
        return downloaded

    def _cache_path(self, link: Link) -> Path:
        """Where the file of a remote ``link`` lives in the cache."""
        if link.sha256 is not None:
            return self._root / "files" / link.sha256[:2] / link.sha256 / link.filename
        return key_path(self._root / "files" / "url", link.url) / link.filename
