"""The client the index layer talks to: HTTP(S) and ``file://`` behind one API.

:class:`HttpClient` answers whole responses (cached, see
:mod:`bundler.net.response_cache`), byte ranges (uncached, for lazy wheels and
sdist metadata) and whole files written to disk (see
:mod:`bundler.net.download`) over one pooled :class:`~bundler.net.transport.Transport`,
so the many small parallel metadata fetches to one host reuse connections.
``file://`` URLs are answered from the local file system through the same
methods, so a local index or find-links directory needs no special casing
above this module. :class:`HttpClient` is the part of it the index layer
relies on, for tests to fake.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bundler.cache import cache_dir
from bundler.errors import NetworkError, OfflineMiss
from bundler.net.download import content_range, copy_verified, download_resumable
from bundler.net.errors import OFFLINE_HINT, HttpStatusError, RangeNotSupported
from bundler.net.response_cache import ResponseCache
from bundler.net.transport import BodyReader, Response, Transport, to_response
from bundler.net.urls import file_url_to_path, is_file_url, redact_url

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bundler.net.download import Progress


class HttpClient:
    """A thread-safe HTTP(S) + ``file://`` client with an on-disk cache.

    The one client the index and vendor stages take as a parameter; tests and
    API users pass a subclass (recording, failing) or one over their own
    :class:`~bundler.net.transport.Transport`.

    ``offline=True`` answers only from the cache (and local files) and raises
    :class:`~bundler.errors.OfflineMiss` otherwise; ``refresh=True`` never
    trusts a cached response without asking the server (a 304 still reuses
    it). Connections, retries and the CA bundle are its
    :class:`~bundler.net.transport.Transport`'s.
    """

    def __init__(
        self,
        *,
        offline: bool = False,
        refresh: bool = False,
        cache_root: Path | None = None,
        environ: Mapping[str, str] = os.environ,
        transport: Transport | None = None,
    ) -> None:
        self.offline = offline
        self.refresh = refresh
        self._cache = ResponseCache((cache_root or cache_dir(environ)) / "http")
        # Timeouts, retries and the connection pool are the transport's; tests
        # pass a patient or impatient one.
        self._transport = transport or Transport(environ=environ)

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        cache: bool = True,
        max_age: float | None = None,
    ) -> Response:
        """GET ``url`` and return the complete response, whatever its status.

        With ``cache=True`` a 200/404/410 answer is stored and reused while
        fresh: for ``Cache-Control: max-age`` seconds, else for ``max_age``
        (None: always revalidate). A stale entry is revalidated with
        ``If-None-Match``/``If-Modified-Since``; ``no-store`` is never stored.
        """
        if is_file_url(url):
            return _get_file(url)
        request_headers = {"Accept-Encoding": "gzip, deflate", **(headers or {})}
        entry_path = None
        stored = None
        if cache:
            entry_path = self._cache.path(url, request_headers.get("Accept", ""))
            stored = self._cache.load(entry_path, url)
        if self.offline:
            if stored is not None:
                return stored.response
            raise OfflineMiss(f"{redact_url(url)} is not in the cache.", hint=OFFLINE_HINT)
        now = time.time()
        if stored is not None:
            if not self.refresh and stored.is_fresh(now, max_age):
                return stored.response
            request_headers.update(stored.validators())

        def attempt() -> Response:
            raw = self._transport.open(url, request_headers, preload=True)
            try:
                return to_response(url, raw, raw.data)
            finally:
                raw.release_conn()

        response = self._transport.retrying(url, attempt)
        if response.status == 304 and stored is not None:
            response = stored.revalidated(response)
        if entry_path is not None:
            self._cache.store(entry_path, url, response, now)
        return response

    def get_range(self, url: str, start: int, end: int) -> bytes:
        """Bytes ``start``..``end`` (inclusive) of ``url``, uncached.

        Raises :class:`RangeNotSupported` when the server answers 200 instead
        of 206 (the body is not read).
        """
        if is_file_url(url):
            with file_url_to_path(url).open("rb") as handle:
                handle.seek(start)
                return handle.read(end - start + 1)
        first, _, body = self._ranged(url, f"bytes={start}-{end}")
        if first != start:
            raise NetworkError(
                f"{redact_url(url)} answered a range starting at {first}, not {start}."
            )
        return body

    def get_tail(self, url: str, length: int) -> tuple[int, bytes]:
        """The file size and its last ``length`` bytes (a suffix range), uncached.

        Raises :class:`RangeNotSupported` when the server ignores the range.
        """
        if is_file_url(url):
            path = file_url_to_path(url)
            with path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - length))
                return size, handle.read()
        first, total, body = self._ranged(url, f"bytes=-{length}")
        if first + len(body) != total:
            raise NetworkError(f"{redact_url(url)} answered a suffix range that ends early.")
        return total, body

    def fetch_file(
        self,
        url: str,
        dest: Path,
        *,
        sha256: str | None = None,
        progress: Progress | None = None,
    ) -> str:
        """Stream ``url`` into ``dest`` and return its sha256.

        The bytes go to ``<dest>.part`` while being hashed; only a complete
        file, with the given ``sha256`` when there is one, is moved to
        ``dest`` (``os.replace``), so ``dest`` never holds a partial file.

        Resuming: a connection lost mid-body continues with ``Range:
        bytes=N-`` from the N bytes already received, guarded by ``If-Range``
        with the first answer's strong ETag (or Last-Modified). A part file
        left by an earlier, killed run is resumed the same way, but only when
        ``sha256`` is given: nothing else could vouch for bytes of unknown
        origin. A server that ignores the range (answers 200) is read from
        the start again. A resumed file with the wrong hash is discarded and
        downloaded once more from scratch; a download from scratch with the
        wrong hash raises :class:`HashMismatch` (not retried) and leaves
        neither ``dest`` nor a part file.

        Connection errors and 429/5xx are retried with exponential backoff;
        an attempt that added bytes to the part file does not use up a retry,
        so a large file on a flaky link still finishes. After the retries the
        part file stays for the next run and :class:`NetworkError` is raised;
        an error status raises :class:`HttpStatusError` and drops it.

        ``progress(delta, total)`` is called as bytes arrive, and once for
        the bytes of a resumed part file; see :data:`~bundler.net.download.Progress`.
        Thread-safe for different ``dest``; writers of the same ``dest``
        (threads or processes) take turns on the part file's lock.
        """
        expected = sha256.lower() if sha256 is not None else None
        if is_file_url(url):
            with file_url_to_path(url).open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                return copy_verified(url, handle, dest, expected, progress, size)
        if self.offline:
            raise OfflineMiss(f"{redact_url(url)} is not in the cache.", hint=OFFLINE_HINT)
        return download_resumable(self._transport, url, dest, expected, progress)

    def _ranged(self, url: str, spec: str) -> tuple[int, int, bytes]:
        """GET with ``Range: spec``; (first byte, total size, body)."""
        if self.offline:
            raise OfflineMiss(f"{redact_url(url)} is not in the cache.", hint=OFFLINE_HINT)
        # identity: a range of a compressed representation would be useless.
        headers = {"Range": spec, "Accept-Encoding": "identity"}

        def attempt() -> tuple[int, int, bytes]:
            raw = self._transport.open(url, headers, preload=False)
            try:
                if raw.status == 200:
                    raise RangeNotSupported(f"{redact_url(url)} ignores HTTP range requests.")
                if raw.status != 206:
                    raise HttpStatusError(url, raw.status)
                value = raw.headers.get("content-range", "")
                span = content_range(value)
                if span is None or span[1] is None:
                    raise RangeNotSupported(
                        f"{redact_url(url)} answered an unusable Content-Range {value!r}."
                    )
                return span[0], span[1], BodyReader(raw).read()
            finally:
                # A 200 or an error body is never read: closing drops the socket
                # instead of pulling a whole (possibly huge) file through it.
                # After a complete read urllib3 has already handed the connection
                # back to the pool, so this close() does not cost its reuse.
                raw.close()
                raw.release_conn()

        return self._transport.retrying(url, attempt)


def _get_file(url: str) -> Response:
    path = file_url_to_path(url)
    if path.is_dir():
        # A directory of a static index: its page is index.html, and the
        # base URL needs a trailing slash so relative links resolve inside.
        path = path / "index.html"
        if not url.endswith("/"):
            url += "/"
    try:
        body = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return Response(url, 404, {}, b"")
    suffix = path.suffix.lower()
    content_type = {
        ".html": "text/html",
        ".htm": "text/html",
        ".json": "application/vnd.pypi.simple.v1+json",
    }.get(suffix, "application/octet-stream")
    return Response(url, 200, {"content-type": content_type}, body)
