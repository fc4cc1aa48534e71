"""The front of a remote file as a sequential stream of HTTP range reads.

An sdist's static metadata is often well before its end, but a ``.tar.gz``
can only be read front to back: llama-cpp-python's ``pyproject.toml`` is
40 MB into a 77 MB file (behind a 38 MB git pack), its ``PKG-INFO`` last.
:class:`RangeStream` hands the tar reader that front one chunk at a time and,
once a file proves big, keeps the next chunks in flight while the current one
is decompressed, so the network and the inflating overlap instead of taking
turns. Past its budget (60% of the file, at least 16 MB) it raises
:class:`Unsettled`: the caller then downloads the file whole, which also
keeps it for a build.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING

from bundler.background import DaemonPool
from bundler.net.errors import HttpStatusError

if TYPE_CHECKING:
    from types import TracebackType

    from bundler.index.lazy_wheel import RangeFetcher


class Unsettled(Exception):
    """The metadata was not found early in the file: download it whole (and keep it)."""


class RangeStream:
    """A ``read``-only file over bytes ``0..`` of ``url``, fetched in ranges.

    The first read asks for :attr:`FIRST` bytes alone (most sdists settle
    there). After that, chunks of :attr:`CHUNK` bytes are fetched :attr:`AHEAD`
    at a time in the background. ``read_bytes`` counts what the reader took;
    requests in flight when the stream is closed are abandoned.
    """

    FIRST = 1 << 20
    CHUNK = 4 << 20
    MIN_BUDGET = 16 << 20
    AHEAD = 2

    def __init__(self, client: RangeFetcher, url: str, size: int | None) -> None:
        self._client = client
        self._url = url
        self._size = size  # learnt from a short answer when the index did not say
        self._budget = max(self.MIN_BUDGET, int((size or 0) * 0.6))
        self._chunk = b""
        self._offset = 0  # into _chunk
        self._asked = 0  # first byte not yet asked for
        self._pending: deque[Future[bytes]] = deque()
        self._executor: DaemonPool | None = None
        self.read_bytes = 0

    def __enter__(self) -> RangeStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop fetching: requests not yet sent are cancelled, running ones abandoned."""
        self._pending.clear()  # the pool's shutdown cancels those not started
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the rest when negative); b"" at the end."""
        parts: list[bytes] = []
        wanted = size
        while wanted != 0:
            if self._offset >= len(self._chunk) and not self._next_chunk():
                break
            available = len(self._chunk) - self._offset
            take = available if wanted < 0 else min(wanted, available)
            parts.append(self._chunk[self._offset : self._offset + take])
            self._offset += take
            self.read_bytes += take
            if wanted > 0:
                wanted -= take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _next_chunk(self) -> bool:
        """Make the next chunk current; False at the end of the file."""
        if not self._pending:
            if self._at_end():
                return False
            if self._asked >= self._budget:
                raise Unsettled(f"no static metadata in the first {self._budget >> 20} MB")
            if self._asked == 0:
                self._asked = min(self.FIRST, self._budget)
                self._chunk, self._offset = self._fetch(0, self._asked), 0
                return bool(self._chunk)
            self._ask()
        data = self._pending.popleft().result()
        self._top_up()
        self._chunk, self._offset = data, 0
        return bool(data)

    def _at_end(self) -> bool:
        return self._size is not None and self._asked >= self._size

    def _top_up(self) -> None:
        while len(self._pending) < self.AHEAD and not self._at_end() and self._asked < self._budget:
            self._ask()

    def _ask(self) -> None:
        if self._executor is None:
            self._executor = DaemonPool(self.AHEAD, "kbundle-range")
        length = min(self.CHUNK, self._budget - self._asked)
        self._pending.append(self._executor.submit(self._fetch, self._asked, length))
        self._asked += length

    def _fetch(self, start: int, length: int) -> bytes:
        end = start + length - 1
        if self._size is not None:
            end = min(end, self._size - 1)
        try:
            data = self._client.get_range(self._url, start, end)
        except HttpStatusError as exc:
            if exc.status != 416 or start == 0:  # 416: starts at the end of the file
                raise
            data = b""
        if len(data) < end - start + 1:
            # A short answer: the end of the file (later chunks come back empty).
            self._size = start + len(data)
        return data
