"""HTTP for the index layer: one pooled client, an on-disk cache and ranges.

:class:`HttpClient` wraps a single thread-safe ``urllib3.PoolManager`` so the
metadata fetches (many small parallel requests to one host) reuse
connections. ``file://`` URLs are answered from the local file system through
the same methods, so a local index or find-links directory needs no special
casing above this module.

The HTTP cache lives under ``cache_dir()/http``: one file per (URL, Accept)
holding a JSON line of metadata followed by the body, written atomically.

Whole files (:meth:`HttpClient.fetch_file`) are streamed into a locked
``<dest>.part`` file while being hashed and moved into place only once
verified; an interrupted transfer resumes from the bytes already there with
an HTTP ``Range`` request, in the same run or the next one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from bundler.cache import (
    PartFile,
    atomic_write,
    atomic_writer,
    cache_dir,
    key_path,
    open_part,
    read_or_none,
)
from bundler.errors import InputError, NetworkError, OfflineMiss

if TYPE_CHECKING:
    from collections.abc import Mapping

    import urllib3

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: A download progress callback: ``(bytes_done_delta, total_size_or_None)``.
#: The deltas of one file always add up to the bytes it holds so far; a
#: delta is negative when counted bytes are thrown away (a restart).
Progress = Callable[[int, "int | None"], None]

#: Statuses worth another try: the server or a proxy in front of it is busy.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses stored in the HTTP cache; 404/410 too, so an offline run still
#: knows which index does not have a project.
_CACHEABLE = frozenset({200, 404, 410})
#: Response headers kept in a cache entry.
_KEPT_HEADERS = ("content-type", "etag", "last-modified", "cache-control", "age")
_CHUNK = 1 << 20
_OFFLINE_HINT = "Run once without --offline to fill the cache."
_NETWORK_HINT = "Check the network connection, or use --offline to work from the cache."


class HttpStatusError(NetworkError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(f"{redact_url(url)} answered HTTP {status}.")
        self.url = url
        self.status = status


class RangeNotSupported(NetworkError):
    """The server ignored a ``Range`` header; the caller should fetch the whole file."""


class HashMismatch(NetworkError):
    """Downloaded bytes do not have the hash the index promised."""

    def __init__(self, url: str, algorithm: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{redact_url(url)} has {algorithm} {actual}, but the index lists {expected}.",
            hint="The file changed on the server or was corrupted in transit; try again.",
        )
        self.url = url
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


class _Transient(Exception):
    """A failure worth retrying (connection trouble or a 5xx); never escapes.

    ``unreachable`` says the server was never reached (DNS, refused, timed
    out), as opposed to a server that answered badly.
    """

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def _connection_problem(reason: BaseException) -> str:
    """Why a host could not be reached, in words (DNS, refused, timeout)."""
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    text = str(reason)
    if isinstance(reason, NameResolutionError):
        return "its host name does not resolve (DNS)"
    if "refused" in text.lower():
        return "the connection was refused"
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: test it first.
    if isinstance(reason, NewConnectionError):
        return text
    if isinstance(reason, (ConnectTimeoutError, TimeoutError)):
        return "the connection timed out"
    return text


@dataclass(frozen=True)
class Response:
    """A complete response: ``url`` is the final URL (after redirects), the base
    for relative links; ``headers`` have lower-case names."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    from_cache: bool = False

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ("" when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def raise_for_status(self) -> None:
        """Raise :class:`HttpStatusError` for a 4xx/5xx status."""
        if self.status >= 400:
            raise HttpStatusError(self.url, self.status)


class Fetcher(Protocol):
    """What the index layer needs from an HTTP client (tests may inject fakes)."""

    @property
    def offline(self) -> bool:
        """True when nothing may touch the network."""
        ...

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        cache: bool = True,
        max_age: float | None = None,
    ) -> Response:
        """A complete response for ``url`` (any status), possibly from the cache."""
        ...

    def get_range(self, url: str, start: int, end: int) -> bytes:
        """Bytes ``start..end`` (inclusive) of ``url``; RangeNotSupported if ignored."""
        ...

    def get_tail(self, url: str, length: int) -> tuple[int, bytes]:
        """(file size, last ``length`` bytes) of ``url``; RangeNotSupported if ignored."""
        ...

    def fetch_file(
        self,
        url: str,
        dest: Path,
        *,
        sha256: str | None = None,
        progress: Progress | None = None,
    ) -> str:
        """Stream ``url`` to ``dest`` atomically, verify ``sha256``, return the sha256;
        ``progress`` sees the bytes as they arrive."""
        ...


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``****@`` (for messages and logs)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc="****@" + host))


def is_file_url(url: str) -> bool:
    """True for ``file:`` URLs."""
    return url[:5].lower() == "file:"


def file_url_to_path(url: str) -> Path:
    """The local path of a ``file://`` URL (``file:///x`` or ``file://localhost/x``)."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise InputError(f"{url}: only local file:// URLs are supported")
    # Linux only: a file URL's path is the file's path, %-escaped.
    return Path(unquote(parts.path))


def _ca_bundle(environ: Mapping[str, str]) -> str | None:
    for variable in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = environ.get(variable)
        if value:
            if not Path(value).exists():
                raise InputError(f"{variable}={value} does not exist", source=variable)
            return value
    return None


def _cache_control(headers: Mapping[str, str]) -> dict[str, str]:
    directives: dict[str, str] = {}
    for item in headers.get("cache-control", "").split(","):
        name, _, value = item.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip().strip('"')
    return directives


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class _Entry:
    """One stored response; ``stored_at`` is when it was last known fresh at age 0."""

    response: Response
    stored_at: float

    def is_fresh(self, now: float, default_max_age: float | None) -> bool:
        directives = _cache_control(self.response.headers)
        if "no-cache" in directives:
            return False
        max_age = _int_or_none(directives.get("max-age"))
        lifetime = max_age if max_age is not None else default_max_age
        return lifetime is not None and now - self.stored_at < lifetime

    def encode(self, request_url: str) -> bytes:
        meta = {
            "status": self.response.status,
            # The request URL may carry credentials: store only a redirect target.
            "url": None if self.response.url == request_url else self.response.url,
            "headers": dict(self.response.headers),
            "stored_at": self.stored_at,
        }
        return json.dumps(meta).encode() + b"\n" + self.response.body

    @classmethod
    def decode(cls, data: bytes, request_url: str) -> _Entry | None:
        line, _, body = data.partition(b"\n")
        try:
            meta = json.loads(line)
            response = Response(
                url=meta["url"] or request_url,
                status=int(meta["status"]),
                headers={str(k): str(v) for k, v in meta["headers"].items()},
                body=body,
                from_cache=True,
            )
            return cls(response, float(meta["stored_at"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.debug("ignoring unreadable cache entry for %s", redact_url(request_url))
            return None


class HttpClient:
    """A thread-safe HTTP(S) + ``file://`` client with an on-disk cache.

    ``offline=True`` answers only from the cache (and local files) and raises
    :class:`~bundler.errors.OfflineMiss` otherwise; ``refresh=True`` never
    trusts a cached response without asking the server (a 304 still reuses
    it). Connection errors and 429/5xx answers are retried ``retries`` times
    with exponential backoff starting at ``backoff`` seconds.
    """

    def __init__(
        self,
        *,
        offline: bool = False,
        refresh: bool = False,
        cache_root: Path | None = None,
        environ: Mapping[str, str] = os.environ,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_connections: int = 16,
    ) -> None:
        self.offline = offline
        self.refresh = refresh
        self._http_dir = (cache_root or cache_dir(environ)) / "http"
        self._retries = retries
        self._backoff = backoff
        # Credentials seen in any URL, per host: relative file links on a
        # credentialed index (or a redirect) then authenticate too, as pip does.
        self._credentials: dict[str, str] = {}
        self._ca = _ca_bundle(environ)
        self._timeout = timeout
        self._max_connections = max_connections
        # Made on the first request: a run served from the cache (a warm
        # lock) then never imports urllib3 nor reads the CA bundle.
        self._pool_manager: urllib3.PoolManager | None = None
        self._pool_lock = threading.Lock()

    @property
    def _pool(self) -> urllib3.PoolManager:
        with self._pool_lock:
            if self._pool_manager is None:
                import urllib3

                ca, timeout = self._ca, self._timeout
                self._pool_manager = urllib3.PoolManager(
                    num_pools=32,
                    maxsize=self._max_connections,
                    timeout=urllib3.Timeout(connect=min(timeout, 15.0), read=timeout),
                    # Only redirects are left to urllib3; every other retry is ours
                    # so a failure part-way through a body is retried the same way.
                    retries=urllib3.Retry(
                        total=None, connect=0, read=0, status=0, other=0, redirect=10
                    ),
                    ca_certs=ca if ca and not Path(ca).is_dir() else None,
                    ca_cert_dir=ca if ca and Path(ca).is_dir() else None,
                )
            return self._pool_manager

    # -- public API ---------------------------------------------------------

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
            return self._get_file(url)
        request_headers = {"Accept-Encoding": "gzip, deflate", **(headers or {})}
        entry_path = None
        stored = None
        if cache:
            # Accept is part of the key: JSON and HTML answers differ.
            entry_path = key_path(self._http_dir, url + "\n" + request_headers.get("Accept", ""))
            data = read_or_none(entry_path)
            stored = _Entry.decode(data, url) if data is not None else None
        if self.offline:
            if stored is not None:
                return stored.response
            raise OfflineMiss(f"{redact_url(url)} is not in the cache.", hint=_OFFLINE_HINT)
        now = time.time()
        if stored is not None:
            if not self.refresh and stored.is_fresh(now, max_age):
                return stored.response
            if etag := stored.response.headers.get("etag"):
                request_headers["If-None-Match"] = etag
            if modified := stored.response.headers.get("last-modified"):
                request_headers["If-Modified-Since"] = modified

        def attempt() -> Response:
            raw = self._open(url, request_headers, preload=True)
            try:
                return self._to_response(url, raw, raw.data)
            finally:
                raw.release_conn()

        response = self._retrying(url, attempt)
        if response.status == 304 and stored is not None:
            merged = {**stored.response.headers, **_kept(response.headers)}
            response = replace(stored.response, headers=merged)
        if entry_path is not None and response.status in _CACHEABLE:
            if "no-store" in _cache_control(response.headers):
                entry_path.unlink(missing_ok=True)
            else:
                age = _int_or_none(response.headers.get("age")) or 0
                entry = _Entry(
                    Response(response.url, response.status, _kept(response.headers), response.body),
                    now - age,
                )
                atomic_write(entry_path, entry.encode(url))
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
        the bytes of a resumed part file; see :data:`Progress`. Thread-safe
        for different ``dest``; writers of the same ``dest`` (threads or
        processes) take turns on the part file's lock.
        """
        expected = sha256.lower() if sha256 is not None else None
        if is_file_url(url):
            with file_url_to_path(url).open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                return _copy_verified(url, handle, dest, expected, progress, size)
        if self.offline:
            raise OfflineMiss(f"{redact_url(url)} is not in the cache.", hint=_OFFLINE_HINT)
        with open_part(dest.with_name(dest.name + ".part")) as part:
            if part.waited and expected is not None and _already_there(dest, expected, progress):
                return expected  # the writer we waited for fetched this very file
            transfer = _Transfer(url, part, progress)
            if part.size and expected is None:
                log.info("not resuming %s: no sha256 to verify the result", redact_url(url))
                part.truncate()
            try:
                actual = self._transfer(transfer)
                if expected is not None and actual != expected and transfer.resumed:
                    # The server's file may have changed between the attempts,
                    # or the old part file was damaged: one clean download
                    # decides, and its verdict is final.
                    log.warning(
                        "%s: the resumed download has the wrong sha256; starting over",
                        redact_url(url),
                    )
                    transfer.restart()
                    actual = self._transfer(transfer)
                if expected is not None and actual != expected:
                    raise HashMismatch(url, "sha256", expected, actual)
            except (HashMismatch, HttpStatusError):
                part.discard()  # wrong bytes, or no file there any more
                raise
            part.commit(dest)
            return actual

    # -- internals ------------------------------------------------------------

    def _ranged(self, url: str, spec: str) -> tuple[int, int, bytes]:
        """GET with ``Range: spec``; (first byte, total size, body)."""
        if self.offline:
            raise OfflineMiss(f"{redact_url(url)} is not in the cache.", hint=_OFFLINE_HINT)
        # identity: a range of a compressed representation would be useless.
        headers = {"Range": spec, "Accept-Encoding": "identity"}

        def attempt() -> tuple[int, int, bytes]:
            raw = self._open(url, headers, preload=False)
            try:
                if raw.status == 200:
                    raise RangeNotSupported(f"{redact_url(url)} ignores HTTP range requests.")
                if raw.status != 206:
                    raise HttpStatusError(url, raw.status)
                content_range = raw.headers.get("content-range", "")
                span = _content_range(content_range)
                if span is None or span[1] is None:
                    raise RangeNotSupported(
                        f"{redact_url(url)} answered an unusable Content-Range {content_range!r}."
                    )
                return span[0], span[1], _BodyReader(raw).read()
            finally:
                # A 200 or an error body is never read: closing drops the socket
                # instead of pulling a whole (possibly huge) file through it.
                # After a complete read urllib3 has already handed the connection
                # back to the pool, so this close() does not cost its reuse.
                raw.close()
                raw.release_conn()

        return self._retrying(url, attempt)

    def _open(
        self, url: str, headers: Mapping[str, str], *, preload: bool
    ) -> urllib3.BaseHTTPResponse:
        parts = urlsplit(url)
        request_headers = dict(headers)
        if "@" in parts.netloc:
            userinfo, _, host = parts.netloc.rpartition("@")
            user, _, password = userinfo.partition(":")
            pair = f"{unquote(user)}:{unquote(password)}"
            self._credentials[host] = base64.b64encode(pair.encode()).decode()
            url = urlunsplit(parts._replace(netloc=host))
        if (token := self._credentials.get(urlsplit(url).netloc)) is not None:
            request_headers.setdefault("Authorization", f"Basic {token}")
        log.debug("GET %s %s", redact_url(url), headers.get("Range", ""))
        from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, SSLError
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            raw = self._pool.request(
                "GET", url, headers=request_headers, preload_content=preload, decode_content=True
            )
        except Urllib3Error as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, SSLError):
                raise NetworkError(
                    f"TLS failure talking to {redact_url(url)}: {reason}",
                    hint="Set PIP_CERT or SSL_CERT_FILE to the CA bundle your network needs.",
                ) from exc
            connecting = isinstance(reason, (NewConnectionError, ConnectTimeoutError))
            message = _connection_problem(reason) if connecting else str(reason)
            raise _Transient(message, unreachable=connecting) from exc
        except OSError as exc:
            raise _Transient(str(exc)) from exc
        if raw.status in RETRY_STATUSES:
            raw.close()
            raw.release_conn()
            raise _Transient(f"HTTP {raw.status}")
        return raw

    def _transfer(self, transfer: _Transfer) -> str:
        """Complete ``transfer`` (resuming after each dropped connection) and
        return the sha256 of the whole part file."""
        high_water = transfer.part.size

        def progressed() -> bool:
            # Only growth past the best length so far counts: a server that
            # ignores ranges and keeps dropping restarts each time and so
            # still runs out of retries.
            nonlocal high_water
            size = transfer.part.size
            grew = size > high_water
            high_water = max(high_water, size)
            return grew

        self._retrying(transfer.url, lambda: self._transfer_once(transfer), progressed=progressed)
        return transfer.hexdigest()

    def _transfer_once(self, transfer: _Transfer) -> None:
        """One request for the rest of the file; _Transient when cut short."""
        have = transfer.part.size
        headers = {"Accept-Encoding": "identity"}  # byte offsets of the file itself
        if have:
            headers["Range"] = f"bytes={have}-"
            if transfer.validator is not None:
                # Resume only the representation the bytes came from: on any
                # other the server answers 200 with the whole new file.
                headers["If-Range"] = transfer.validator
        url = transfer.url
        raw = self._open(url, headers, preload=False)
        try:
            if raw.status == 206 and have:
                content_range = raw.headers.get("content-range", "")
                span = _content_range(content_range)
                if span is None or span[0] != have:
                    transfer.restart()
                    raise _Transient(f"unusable Content-Range {content_range!r} for a resume")
                log.info("resuming %s at byte %d", redact_url(url), have)
                transfer.resume(span[1], _validator(raw.headers))
            elif raw.status == 200:
                if have:
                    log.info("%s sent the whole file again; starting over", redact_url(url))
                total = _int_or_none(raw.headers.get("content-length"))
                transfer.start(total, _validator(raw.headers))
            elif raw.status == 416 and have:
                unit, _, rest = raw.headers.get("content-range", "").partition(" ")
                if unit == "bytes" and rest == f"*/{have}":
                    # Complete already (killed before the rename): the hash decides.
                    transfer.resume(have, None)
                    return
                # Longer than the file: these bytes are not from this file.
                transfer.restart()
                raise _Transient("the partial download is longer than the file")
            else:
                raise HttpStatusError(url, raw.status)
            transfer.stream(_BodyReader(raw))
        finally:
            # See _ranged: never drain an unwanted body through the socket.
            raw.close()
            raw.release_conn()

    def _retrying(
        self,
        url: str,
        attempt: Callable[[], _T],
        *,
        progressed: Callable[[], bool] | None = None,
    ) -> _T:
        """``attempt()`` until it does not raise _Transient: ``self._retries``
        more times with exponential backoff. When ``progressed()`` says the
        failed attempt got somewhere, the count and the delay start over."""
        delay = self._backoff
        failures = attempts = 0
        while True:
            attempts += 1
            try:
                return attempt()
            except _Transient as exc:
                if progressed is not None and progressed():
                    failures, delay = 0, self._backoff
                if failures == self._retries:
                    if exc.unreachable:
                        host = urlsplit(url).netloc.rpartition("@")[2]
                        raise NetworkError(
                            f"{host} is unreachable: {exc} (fetching {redact_url(url)}, "
                            f"tried {attempts} times).",
                            hint=_NETWORK_HINT,
                        ) from exc
                    raise NetworkError(
                        f"Could not fetch {redact_url(url)}: {exc} (tried {attempts} times).",
                        hint=_NETWORK_HINT,
                    ) from exc
                failures += 1
                log.info("retrying %s in %.1fs: %s", redact_url(url), delay, exc)
                time.sleep(delay)
                delay *= 2

    def _to_response(self, url: str, raw: urllib3.BaseHTTPResponse, body: bytes) -> Response:
        # urllib3 reports the final URL without credentials: keep the request
        # URL (credentials and all) as the base for relative links unless a
        # redirect actually happened.
        final = url
        if raw.retries is not None and raw.retries.history and raw.url:
            final = raw.url
        headers = {name.lower(): value for name, value in raw.headers.items()}
        return Response(final, raw.status, headers, body)

    def _get_file(self, url: str) -> Response:
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


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in _KEPT_HEADERS if name in headers}


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _copy_verified(
    url: str,
    source: _Readable,
    dest: Path,
    sha256: str | None,
    progress: Progress | None = None,
    total: int | None = None,
) -> str:
    """Copy ``source`` into ``dest`` atomically, hashing on the way."""
    digest = hashlib.sha256()
    with atomic_writer(dest) as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            if progress is not None:
                progress(len(chunk), total)
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256.lower():
            raise HashMismatch(url, "sha256", sha256, actual)
    return actual


def _already_there(dest: Path, sha256: str, progress: Progress | None) -> bool:
    """True (and progress reported) when ``dest`` exists with this sha256."""
    digest = hashlib.sha256()
    try:
        with dest.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
            size = handle.tell()
    except FileNotFoundError:
        return False
    if digest.hexdigest() != sha256:
        return False
    if progress is not None:
        progress(size, size)
    return True


def _content_range(value: str) -> tuple[int, int | None] | None:
    """(first byte, total size or None for ``*``) of a ``bytes a-b/n``
    Content-Range; None when it is not one."""
    unit, _, rest = value.strip().partition(" ")
    span, _, total = rest.partition("/")
    first, _, _ = span.partition("-")
    if unit.lower() != "bytes" or not first.isdigit():
        return None
    return int(first), int(total) if total.isdigit() else None


def _validator(headers: Mapping[str, str]) -> str | None:
    """What If-Range may carry for this response: a strong ETag, else
    Last-Modified (a weak ETag never matches a range request)."""
    etag = headers.get("etag")
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("last-modified")


class _Transfer:
    """One file download in progress: the locked part file, the running
    sha256 of its bytes and what ``progress`` has been told so far.

    Invariants: the digest covers the first ``_hashed`` bytes of the part
    file (a prefix: only :meth:`restart` shrinks it, and resets both), and
    the reported deltas add up to the part file's size whenever data is
    flowing.
    """

    def __init__(self, url: str, part: PartFile, progress: Progress | None) -> None:
        self.url = url
        self.part = part
        #: If-Range value: the representation the part file's bytes came from.
        self.validator: str | None = None
        #: True when the part file's bytes came from more than one response
        #: (or from an earlier run): only then is a hash mismatch worth a
        #: second, clean download.
        self.resumed = False
        self._progress = progress
        self._digest = hashlib.sha256()
        self._hashed = 0
        self._reported = 0
        self._total: int | None = None

    def start(self, total: int | None, validator: str | None) -> None:
        """A 200 answer: the whole file follows, whatever the part file held."""
        self.restart()
        self._total = total
        self.validator = validator

    def resume(self, total: int | None, validator: str | None) -> None:
        """A 206 answer continuing at the part file's end."""
        self._total = total
        self.validator = self.validator or validator
        self.resumed = True
        # Bytes from an earlier run were never reported: count them once now.
        self._report(self.part.size - self._reported)

    def restart(self) -> None:
        """Forget every byte: truncate the part file, the hash and the count."""
        self._report(-self._reported)
        self.part.truncate()
        self._digest = hashlib.sha256()
        self._hashed = 0
        self.resumed = False

    def stream(self, body: _Readable) -> None:
        """Append ``body`` to the part file, hashing and reporting as it comes."""
        self._catch_up()
        while chunk := body.read(_CHUNK):
            self.part.append(chunk)
            self._digest.update(chunk)
            self._hashed += len(chunk)
            self._report(len(chunk))

    def hexdigest(self) -> str:
        """The sha256 of the whole part file."""
        self._catch_up()
        return self._digest.hexdigest()

    def _catch_up(self) -> None:
        # Bytes written by an earlier run (or an attempt that failed while
        # writing) are hashed from disk, once.
        for chunk in self.part.read_from(self._hashed):
            self._digest.update(chunk)
            self._hashed += len(chunk)

    def _report(self, delta: int) -> None:
        self._reported += delta
        if delta and self._progress is not None:
            self._progress(delta, self._total)


class _BodyReader:
    """A file-like ``read`` over a streaming urllib3 body that turns
    connection failures into retryable errors."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            if size < 0:
                return self._raw.read(decode_content=False)
            return self._raw.read(size, decode_content=False)
        except (Urllib3Error, OSError) as exc:
            raise _Transient(f"connection lost while reading: {exc}") from exc
