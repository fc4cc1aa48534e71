"""Whole files: resuming with ranges, verifying, progress, writers taking turns."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.errors import NetworkError
from bundler.net.client import HttpClient
from bundler.net.download import content_range
from bundler.net.errors import HashMismatch
from bundler.net.transport import Transport
from tests.helpers.index_server import IndexServer
from tests.helpers.net import make_client
from tests.helpers.progress import Recorder
from tests.helpers.wheels import build_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def big(tmp_path: Path) -> Path:
    """A stored (uncompressed) 320 KB wheel: big enough to cut anywhere."""
    blob = hashlib.sha256(b"seed").digest() * 10_000
    files = {"big/blob.bin": blob}
    return build_wheel(tmp_path / "big", "big", "1.0", files=files, compression=zipfile.ZIP_STORED)


@pytest.fixture
def big_server(big: Path) -> Iterator[IndexServer]:
    with IndexServer({"simple": big.parent}) as running:
        yield running


def file_url(server: IndexServer, path: Path) -> str:
    return server.index_url() + "files/" + path.name


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def part_of(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def test_dropped_connection_resumes_with_a_range(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    big_server.fail(big.name, "drop", after=100_000)
    dest = tmp_path / "out" / big.name
    progress = Recorder()
    url = file_url(big_server, big)
    assert make_client(tmp_path).fetch_file(url, dest, sha256=sha256_of(big), progress=progress)
    assert dest.read_bytes() == big.read_bytes()
    first, second = big_server.requests(big.name)
    assert "range" not in first.headers
    assert second.headers["range"] == "bytes=100000-"
    # Only the representation the first bytes came from may be continued.
    assert second.headers["if-range"].startswith('"')
    assert second.status == 206
    size = big.stat().st_size
    assert progress.calls == [(100_000, size), (size - 100_000, size)]
    assert not part_of(dest).exists()


def test_part_file_of_a_killed_run_is_resumed(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    data = big.read_bytes()
    half = len(data) // 2
    dest = tmp_path / "out" / big.name
    dest.parent.mkdir()
    part_of(dest).write_bytes(data[:half])  # what a killed run left behind
    progress = Recorder()
    make_client(tmp_path).fetch_file(
        file_url(big_server, big), dest, sha256=sha256_of(big), progress=progress
    )
    assert dest.read_bytes() == data
    (request,) = big_server.requests(big.name)
    assert request.headers["range"] == f"bytes={half}-"
    # The bytes already there are counted once, first: a bar starts half full.
    assert progress.calls[0] == (half, len(data))
    assert progress.done == len(data)
    assert not part_of(dest).exists()


def test_complete_part_file_needs_no_body(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    dest = tmp_path / big.name
    part_of(dest).write_bytes(big.read_bytes())  # killed just before the rename
    progress = Recorder()
    client = make_client(tmp_path)
    client.fetch_file(file_url(big_server, big), dest, sha256=sha256_of(big), progress=progress)
    assert dest.read_bytes() == big.read_bytes()
    assert [r.status for r in big_server.requests(big.name)] == [416]
    assert progress.done == big.stat().st_size
    # A part file longer than the file is not from it: start over.
    part_of(dest).write_bytes(big.read_bytes() + b"junk")
    client.fetch_file(file_url(big_server, big), dest, sha256=sha256_of(big))
    assert dest.read_bytes() == big.read_bytes()
    assert [r.status for r in big_server.requests(big.name)][1:] == [416, 200]


def test_part_file_is_not_resumed_without_a_hash(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    dest = tmp_path / big.name
    part_of(dest).write_bytes(b"bytes of unknown origin")
    make_client(tmp_path).fetch_file(file_url(big_server, big), dest)
    assert dest.read_bytes() == big.read_bytes()
    assert big_server.count(big.name, ranged=True) == 0


def test_server_ignoring_ranges_restarts_from_scratch(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    big_server.honor_ranges = False
    big_server.fail(big.name, "drop", after=100_000)
    dest = tmp_path / "out" / big.name
    progress = Recorder()
    make_client(tmp_path).fetch_file(
        file_url(big_server, big), dest, sha256=sha256_of(big), progress=progress
    )
    assert dest.read_bytes() == big.read_bytes()
    _, second = big_server.requests(big.name)
    assert second.headers["range"] == "bytes=100000-"
    assert second.status == 200  # ignored: the whole file came again
    # The discarded bytes are taken back, so the deltas still add up.
    size = big.stat().st_size
    assert (-100_000, size) in progress.calls
    assert progress.done == size
    # A killed run's part file is no use to it either, and costs one request.
    again = tmp_path / "again" / big.name
    again.parent.mkdir()
    part_of(again).write_bytes(big.read_bytes()[:1000])
    make_client(tmp_path).fetch_file(file_url(big_server, big), again, sha256=sha256_of(big))
    assert again.read_bytes() == big.read_bytes()
    assert big_server.count(big.name) == 3


def test_changed_file_is_not_spliced_onto_old_bytes(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    big_server.fail(big.name, "drop", after=100_000)
    new = hashlib.sha256(b"other").digest() * 12_000

    def replace_on_server(delta: int, total: int | None) -> None:
        # The file changes on the server while the connection is down.
        if not big.read_bytes().startswith(new):
            big.write_bytes(new)

    dest = tmp_path / big.name
    make_client(tmp_path).fetch_file(file_url(big_server, big), dest, progress=replace_on_server)
    assert dest.read_bytes() == new  # If-Range did not match: the whole new file
    assert [r.status for r in big_server.requests(big.name)] == [200, 200]


def test_resumed_file_with_the_wrong_hash_is_downloaded_again_once(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    dest = tmp_path / "out" / big.name
    dest.parent.mkdir()
    part_of(dest).write_bytes(b"\0" * 1000)  # damaged, or from another file
    progress = Recorder()
    client = make_client(tmp_path)
    client.fetch_file(file_url(big_server, big), dest, sha256=sha256_of(big), progress=progress)
    assert dest.read_bytes() == big.read_bytes()
    assert [r.headers.get("range") for r in big_server.requests(big.name)] == [
        "bytes=1000-",
        None,
    ]
    assert progress.done == big.stat().st_size
    # Wrong after the clean download too: an error, and nothing is left.
    part_of(dest).write_bytes(big.read_bytes()[:1000])
    with pytest.raises(HashMismatch):
        client.fetch_file(file_url(big_server, big), dest, sha256="1" * 64)
    assert big_server.count(big.name) == 4
    assert not part_of(dest).exists()


def test_wrong_sha256_is_an_error_and_not_retried(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    dest = tmp_path / "out" / big.name
    url = file_url(big_server, big)
    with pytest.raises(HashMismatch) as excinfo:
        make_client(tmp_path).fetch_file(url, dest, sha256="A" * 64)
    error = excinfo.value
    assert (error.url, error.expected, error.actual) == (url, "a" * 64, sha256_of(big))
    assert url in str(error)
    assert "a" * 64 in str(error)
    assert sha256_of(big) in str(error)
    assert big_server.count(big.name) == 1
    assert list(dest.parent.iterdir()) == []  # neither the file nor a part of it


def test_flaky_connection_finishes_as_long_as_bytes_arrive(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    big_server.fail(big.name, "drop", times=100, after=50_000)
    client = HttpClient(
        cache_root=tmp_path / "cache", transport=Transport(backoff=0.001, retries=1)
    )
    dest = tmp_path / big.name
    client.fetch_file(file_url(big_server, big), dest, sha256=sha256_of(big))
    assert dest.read_bytes() == big.read_bytes()
    starts = [r.headers.get("range") for r in big_server.requests(big.name)]
    assert starts == [None] + [f"bytes={n}-" for n in range(50_000, 320_000, 50_000)]


def test_failed_download_keeps_its_part_for_the_next_run(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    # A server that ignores ranges and keeps dropping never makes progress.
    big_server.honor_ranges = False
    big_server.fail(big.name, "drop", times=3, after=100_000)
    dest = tmp_path / big.name
    client = HttpClient(
        cache_root=tmp_path / "cache", transport=Transport(backoff=0.001, retries=2)
    )
    with pytest.raises(NetworkError, match="tried 3 times"):
        client.fetch_file(file_url(big_server, big), dest, sha256=sha256_of(big))
    assert not dest.exists()
    assert part_of(dest).stat().st_size == 100_000
    big_server.honor_ranges = True
    client.fetch_file(file_url(big_server, big), dest, sha256=sha256_of(big))
    assert dest.read_bytes() == big.read_bytes()
    assert big_server.requests(big.name)[-1].headers["range"] == "bytes=100000-"


def test_two_writers_of_one_file_take_turns(
    tmp_path: Path, big_server: IndexServer, big: Path
) -> None:
    client = make_client(tmp_path)
    dest = tmp_path / big.name
    results: list[str] = []

    def fetch() -> None:
        results.append(client.fetch_file(file_url(big_server, big), dest, sha256=sha256_of(big)))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [sha256_of(big)] * 4
    assert dest.read_bytes() == big.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [big.name]


def test_content_range_parsing() -> None:
    assert content_range("bytes 100-199/1000") == (100, 1000)
    assert content_range("bytes 100-199/*") == (100, None)
    assert content_range(" Bytes 0-0/1 ") == (0, 1)
    assert content_range("bytes */1000") is None
    assert content_range("items 0-1/2") is None
    assert content_range("") is None


def test_progress_of_a_local_copy(tmp_path: Path, big: Path) -> None:
    progress = Recorder()
    client = HttpClient(cache_root=tmp_path / "cache", offline=True)
    client.fetch_file(big.as_uri(), tmp_path / "copy.whl", progress=progress)
    assert progress.done == big.stat().st_size
    assert {total for _, total in progress.calls} == {big.stat().st_size}
