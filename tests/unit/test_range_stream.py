"""The front of a remote file by range reads: read-ahead, the budget, the end of the file."""

from __future__ import annotations

import threading

import pytest

from bundler.errors import NetworkError
from bundler.index.range_stream import RangeStream, Unsettled
from bundler.net.errors import HttpStatusError


class Ranges:
    """A remote file in memory that records each range asked for."""

    def __init__(self, data: bytes, *, fail_from: int | None = None, strict: bool = False) -> None:
        self.data = data
        self.fail_from = fail_from
        self.strict = strict  # answer 416 past the end, as a real server does
        self.asked: list[tuple[int, int]] = []
        self._lock = threading.Lock()

    def get_range(self, url: str, start: int, end: int) -> bytes:
        with self._lock:
            self.asked.append((start, end))
        if self.fail_from is not None and start >= self.fail_from:
            raise NetworkError(f"connection lost at {start}")
        if self.strict and start >= len(self.data):
            raise HttpStatusError(url, 416)
        return self.data[start : end + 1]

    def get_tail(self, url: str, length: int) -> tuple[int, bytes]:
        raise AssertionError("not used")


class Small(RangeStream):
    FIRST = 10
    CHUNK = 100
    MIN_BUDGET = 1000


DATA = bytes(range(256)) * 3 + bytes(132)  # 900 bytes, within Small's budget


def test_a_small_read_asks_for_the_first_chunk_alone() -> None:
    remote = Ranges(DATA)
    with Small(remote, "u", len(DATA)) as stream:
        assert stream.read(5) == DATA[:5]
        assert stream.read(5) == DATA[5:10]
    assert remote.asked == [(0, 9)]


def test_past_the_first_chunk_the_next_ones_are_fetched_ahead() -> None:
    remote = Ranges(DATA)
    with Small(remote, "u", 2000) as stream:
        assert stream.read(11) == DATA[:11]
        assert stream.read(99) == DATA[11:110]
        assert stream.read(1) == DATA[110:111]
    # Two chunks stay in flight ahead of the one being read.
    assert sorted(remote.asked)[:4] == [(0, 9), (10, 109), (110, 209), (210, 309)]


def test_reading_everything_stops_at_a_short_answer() -> None:
    remote = Ranges(DATA)
    with Small(remote, "u", None) as stream:
        assert stream.read() == DATA
        assert stream.read(10) == b""
        assert stream.read_bytes == len(DATA)


def test_a_416_past_the_end_is_the_end() -> None:
    exact = DATA[:810]  # the first chunk and eight whole ones: the next range is empty
    with Small(Ranges(exact, strict=True), "u", None) as stream:
        assert stream.read() == exact


def test_the_budget_sends_the_caller_to_a_whole_download() -> None:
    remote = Ranges(DATA * 4)
    with Small(remote, "u", None) as stream, pytest.raises(Unsettled, match="first 0 MB"):
        stream.read()
    assert max(end for _, end in remote.asked) == Small.MIN_BUDGET - 1


def test_a_failed_chunk_fails_the_read_that_needs_it() -> None:
    remote = Ranges(DATA, fail_from=210)
    with Small(remote, "u", len(DATA)) as stream:
        assert stream.read(200) == DATA[:200]  # the failure ahead is not yet anyone's
        with pytest.raises(NetworkError, match="lost at 210"):
            stream.read(100)


def test_a_known_size_is_never_read_past() -> None:
    remote = Ranges(DATA)
    with Small(remote, "u", 150) as stream:
        assert stream.read() == DATA[:150]
    assert all(end <= 149 for start, end in remote.asked if start < 150)
    assert all(start < 150 for start, _ in remote.asked)
