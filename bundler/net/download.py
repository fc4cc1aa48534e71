"""Whole files to disk: streamed, hashed, verified, and resumed when cut short.

:func:`download_resumable` streams a remote file into a locked
``<dest>.part`` file (:func:`bundler.cache.open_part`) while hashing it and
moves it into place only once verified; an interrupted transfer resumes from
the bytes already there with an HTTP ``Range`` request, in the same run or
the next one. :func:`copy_verified` is the same contract for a local file.
Whether a run may touch the network at all is decided by the caller,
:meth:`bundler.net.client.HttpClient.fetch_file`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from bundler.cache import PartFile, atomic_writer, open_part
from bundler.net.errors import HashMismatch, HttpStatusError, Transient
from bundler.net.transport import BodyReader
from bundler.net.urls import redact_url

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from bundler.net.transport import Transport

log = logging.getLogger(__name__)

#: A download progress callback: ``(bytes_done_delta, total_size_or_None)``.
#: The deltas of one file always add up to the bytes it holds so far; a
#: delta is negative when counted bytes are thrown away (a restart).
Progress = Callable[[int, "int | None"], None]

_CHUNK = 1 << 20


class Readable(Protocol):
    """Anything with a binary ``read``: a file, or a :class:`BodyReader`."""

    def read(self, size: int = -1, /) -> bytes: ...


def download_resumable(
    transport: Transport, url: str, dest: Path, sha256: str | None, progress: Progress | None
) -> str:
    """Stream ``url`` into ``dest`` through ``<dest>.part``; return its sha256.

    ``sha256`` (lower case) is what the bytes must hash to, when known. See
    :meth:`bundler.net.client.HttpClient.fetch_file` for the whole contract:
    resuming with ``Range``/``If-Range``, one clean retry of a resumed file
    with the wrong hash, and what is left behind on each kind of failure.
    """
    with open_part(dest.with_name(dest.name + ".part")) as part:
        if part.waited and sha256 is not None and _already_there(dest, sha256, progress):
            return sha256  # the writer we waited for fetched this very file
        transfer = _Transfer(url, part, progress)
        if part.size and sha256 is None:
            log.info("not resuming %s: no sha256 to verify the result", redact_url(url))
            part.truncate()
        try:
            actual = _complete(transport, transfer)
            if sha256 is not None and actual != sha256 and transfer.resumed:
                # The server's file may have changed between the attempts,
                # or the old part file was damaged: one clean download
                # decides, and its verdict is final.
                log.warning(
                    "%s: the resumed download has the wrong sha256; starting over",
                    redact_url(url),
                )
                transfer.restart()
                actual = _complete(transport, transfer)
            if sha256 is not None and actual != sha256:
                raise HashMismatch(url, "sha256", sha256, actual)
        except (HashMismatch, HttpStatusError):
            part.discard()  # wrong bytes, or no file there any more
            raise
        part.commit(dest)
        return actual


def copy_verified(
    url: str,
    source: Readable,
    dest: Path,
    sha256: str | None,
    progress: Progress | None = None,
    total: int | None = None,
) -> str:
    """Copy ``source`` (the bytes of ``url``) into ``dest`` atomically, hashing on
    the way; :class:`HashMismatch` unless they hash to ``sha256`` (when given)."""
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


def content_range(value: str) -> tuple[int, int | None] | None:
    """(first byte, total size or None for ``*``) of a ``bytes a-b/n``
    Content-Range; None when it is not one."""
    unit, _, rest = value.strip().partition(" ")
    span, _, total = rest.partition("/")
    first, _, _ = span.partition("-")
    if unit.lower() != "bytes" or not first.isdigit():
        return None
    return int(first), int(total) if total.isdigit() else None


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


def _complete(transport: Transport, transfer: _Transfer) -> str:
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

    transport.retrying(transfer.url, lambda: _once(transport, transfer), progressed=progressed)
    return transfer.hexdigest()


def _once(transport: Transport, transfer: _Transfer) -> None:
    """One request for the rest of the file; Transient when cut short."""
    have = transfer.part.size
    headers = {"Accept-Encoding": "identity"}  # byte offsets of the file itself
    if have:
        headers["Range"] = f"bytes={have}-"
        if transfer.validator is not None:
            # Resume only the representation the bytes came from: on any
            # other the server answers 200 with the whole new file.
            headers["If-Range"] = transfer.validator
    url = transfer.url
    raw = transport.open(url, headers, preload=False)
    try:
        if raw.status == 206 and have:
            value = raw.headers.get("content-range", "")
            span = content_range(value)
            if span is None or span[0] != have:
                transfer.restart()
                raise Transient(f"unusable Content-Range {value!r} for a resume")
            log.info("resuming %s at byte %d", redact_url(url), have)
            transfer.resume(span[1], _validator(raw.headers))
        elif raw.status == 200:
            if have:
                log.info("%s sent the whole file again; starting over", redact_url(url))
            length = raw.headers.get("content-length")
            total = int(length) if length is not None and length.isdigit() else None
            transfer.start(total, _validator(raw.headers))
        elif raw.status == 416 and have:
            unit, _, rest = raw.headers.get("content-range", "").partition(" ")
            if unit == "bytes" and rest == f"*/{have}":
                # Complete already (killed before the rename): the hash decides.
                transfer.resume(have, None)
                return
            # Longer than the file: these bytes are not from this file.
            transfer.restart()
            raise Transient("the partial download is longer than the file")
        else:
            raise HttpStatusError(url, raw.status)
        transfer.stream(BodyReader(raw))
    finally:
        # Never drain an unwanted body through the socket (see HttpClient._ranged).
        raw.close()
        raw.release_conn()


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

    def stream(self, body: Readable) -> None:
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
