"""The core metadata of distribution files, by the cheapest way to each.

Wheels: the PEP 658 ``<file>.metadata`` when the index advertises one
(hash-checked), else a range read of the wheel's zip directory
(:mod:`bundler.index.lazy_wheel`), else the whole file. Sdists: their static
metadata (:mod:`bundler.index.sdist_metadata`), read from the front of the
file with range requests when it can be, else from the whole file. Every
answer is checked against the file's name and version.

Metadata is cached on disk under ``cache_dir()/metadata``. A file with a
sha256 on the index is immutable, so its metadata is keyed by that sha256 and
kept forever; a file without one is keyed by URL and reused only offline.
Within a run, answers (and failures) are memoised per link.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from email.parser import BytesHeaderParser
from typing import IO, TYPE_CHECKING, cast

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bundler.cache import atomic_write, key_path, read_or_none
from bundler.errors import KbundleError, NetworkError, OfflineMiss
from bundler.index.lazy_wheel import InvalidWheel, fetch_wheel_metadata, metadata_from_wheel_file
from bundler.index.memo import Memo
from bundler.index.range_stream import RangeStream, Unsettled
from bundler.index.sdist_metadata import sdist_metadata, sdist_metadata_from_stream
from bundler.net.errors import OFFLINE_HINT, HashMismatch, RangeNotSupported
from bundler.net.urls import file_url_to_path, is_file_url, redact_url

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from bundler.index.download import Downloader
    from bundler.index.simple_api import Link
    from bundler.net.client import HttpClient

log = logging.getLogger(__name__)


class MetadataStore:
    """Core metadata of links: memoised, cached on disk, thread-safe.

    ``downloader`` fetches a whole file when nothing cheaper works (the file
    then stays in the download cache, ready to vendor or build).
    """

    def __init__(
        self, client: HttpClient, downloader: Downloader, *, cache_root: Path, workers: int = 16
    ) -> None:
        self._client = client
        self._downloader = downloader
        self._root = cache_root
        self._workers = workers
        self._metadata: Memo[str, bytes] = Memo()

    def metadata(self, link: Link) -> bytes | None:
        """The core metadata (``METADATA``/``PKG-INFO`` bytes) of ``link``;
        None for an sdist whose metadata only a build backend could tell."""
        key = link.sha256 or link.url
        return self._metadata.get(key, lambda: self._load(link)) or None

    def prefetch_metadata(self, links: Iterable[Link]) -> None:
        """Fetch the metadata of ``links`` in parallel into the memo and cache.

        Failures are remembered and raised by a later :meth:`metadata` call.
        """
        pending = list({link.sha256 or link.url: link for link in links}.values())
        if not pending:
            return
        with ThreadPoolExecutor(max_workers=min(self._workers, len(pending))) as pool:
            futures = [pool.submit(self.metadata, link) for link in pending]
        for future in futures:
            if isinstance(future.exception(), KbundleError):
                log.debug("prefetch failed: %s", future.exception())
            else:
                future.result()

    def _path(self, link: Link) -> Path:
        if link.sha256 is not None:
            return self._root / "metadata" / "sha256" / link.sha256[:2] / link.sha256
        return key_path(self._root / "metadata" / "url", link.url)

    def _load(self, link: Link) -> bytes:
        """The metadata, or b"" for an sdist without static metadata."""
        if is_file_url(link.url):
            # Local files are read directly: as fast as a cache, never stale.
            path = file_url_to_path(link.url)
            if link.is_wheel:
                return _checked(link, metadata_from_wheel_file(path, link.filename))
            return _checked(link, sdist_metadata(path, link.filename) or b"")
        path = self._path(link)
        # URL-keyed entries may be outdated: trust them only when offline.
        if link.sha256 is not None or self._client.offline:
            cached = read_or_none(path)
            if cached is not None:
                return cached
        try:
            data = self._fetch(link)
        except OfflineMiss as exc:
            raise OfflineMiss(
                f"Metadata of {redact_url(link.url)} is not in the cache.", hint=OFFLINE_HINT
            ) from exc
        # An empty entry records "an sdist without static metadata".
        atomic_write(path, data)
        return data

    def _fetch(self, link: Link) -> bytes:
        if not link.is_wheel:
            if link.filename.endswith(".tar.gz") and not is_file_url(link.url):
                try:
                    with RangeStream(self._client, link.url, link.size) as stream:
                        found = sdist_metadata_from_stream(cast("IO[bytes]", stream), link.filename)
                    log.debug(
                        "%s: read %d bytes for its metadata", link.filename, stream.read_bytes
                    )
                    return _checked(link, found or b"")
                except (RangeNotSupported, Unsettled) as exc:
                    log.info("downloading all of %s: %s", link.filename, exc)
            whole = self._downloader.into_cache(link)
            return _checked(link, sdist_metadata(whole, link.filename) or b"")
        if link.metadata_hashes is not None:
            data = self._core_metadata_file(link)
            if data is not None:
                return _checked(link, data)
        try:
            return _checked(link, fetch_wheel_metadata(self._client, link.url, link.filename))
        except (RangeNotSupported, InvalidWheel) as exc:
            log.info("downloading all of %s: %s", link.filename, exc)
        whole = self._downloader.into_cache(link)
        return _checked(link, metadata_from_wheel_file(whole, link.filename))

    def _core_metadata_file(self, link: Link) -> bytes | None:
        """The PEP 658 ``<file>.metadata``; None when the index lacks it after all."""
        url = link.url + ".metadata"
        response = self._client.get(url, cache=False)
        if response.status in (404, 410):
            log.info("%s is advertised but missing", redact_url(url))
            return None
        response.raise_for_status()
        for algorithm, expected in (link.metadata_hashes or {}).items():
            actual = hashlib.new(algorithm, response.body).hexdigest()
            if actual != expected:
                raise HashMismatch(url, algorithm, expected, actual)
        return response.body


def _checked(link: Link, metadata: bytes) -> bytes:
    """``metadata`` after checking that its Name and Version match the file name."""
    if not metadata:
        return metadata
    headers = BytesHeaderParser().parsebytes(metadata)
    name, version = headers.get("Name"), headers.get("Version")
    try:
        same = (
            canonicalize_name(str(name)) == link.project and Version(str(version)) == link.version
        )
    except InvalidVersion:
        same = False
    if not same:
        raise NetworkError(
            f"{link.filename} holds metadata for {name} {version}.",
            hint="The index serves inconsistent data; report it to its maintainers.",
        )
    return metadata
