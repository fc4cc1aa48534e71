"""Downloads of distributions: verified, through the cache, in parallel, resumed."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.errors import NetworkError
from bundler.index.download import DownloadError
from bundler.index.finder import Finder
from bundler.net.client import HttpClient
from bundler.net.errors import HashMismatch
from bundler.net.transport import Transport
from bundler.request.index_config import IndexConfig
from tests.helpers.finder import make_finder, only
from tests.helpers.index_server import IndexServer
from tests.helpers.progress import Recorder
from tests.helpers.wheels import build_wheel

if TYPE_CHECKING:
    from bundler.index.simple_api import Link
    from bundler.net.download import Progress


pytestmark = pytest.mark.usefixtures("cache_in_tmp")


def test_download_verifies_and_reuses_the_cache(
    tmp_path: Path, server: IndexServer, dists: Path
) -> None:
    path = build_wheel(dists, "demo", "1.0")
    finder = make_finder(server.index_url())
    wheel = only(finder.files("demo"))
    first = finder.download(wheel, tmp_path / "a")
    assert first.read_bytes() == path.read_bytes()
    requests = server.count()
    second = make_finder(server.index_url(), offline=True).download(wheel, tmp_path / "b")
    assert second.read_bytes() == path.read_bytes()
    assert server.count() == requests
    tampered = replace(wheel, hashes={"sha256": "0" * 64})
    with pytest.raises(HashMismatch):
        finder.download(tampered, tmp_path / "c")
    assert not (tmp_path / "c" / wheel.filename).exists()


def test_warm_cache_downloads_without_requests(
    tmp_path: Path, server: IndexServer, dists: Path
) -> None:
    path = build_wheel(dists, "demo", "1.0")
    finder = make_finder(server.index_url())
    wheel = only(finder.files("demo"))
    assert finder.cached_file(wheel) is None
    progress = Recorder()
    finder.download(wheel, tmp_path / "a", progress=progress)
    assert progress.done == path.stat().st_size
    requests = server.count()
    warm = make_finder(server.index_url())
    cached = warm.cached_file(wheel)
    assert cached is not None
    assert cached.read_bytes() == path.read_bytes()
    progress = Recorder()
    assert warm.download(wheel, tmp_path / "b", progress=progress).read_bytes() == (
        path.read_bytes()
    )
    # One call with the whole size, so a progress bar completes.
    assert progress.calls == [(path.stat().st_size, path.stat().st_size)]
    assert warm.download_all([wheel], tmp_path / "c") == {wheel: tmp_path / "c" / wheel.filename}
    assert server.count() == requests


def test_download_all_in_parallel_reports_every_failure_once(
    tmp_path: Path, server: IndexServer, dists: Path
) -> None:
    for number in range(5):
        build_wheel(dists, f"pkg{number}", "1.0")
    finder = make_finder(server.index_url())
    links = [only(finder.files(f"pkg{number}")) for number in range(5)]
    broken = links[2]
    hidden = tmp_path / broken.filename
    (dists / broken.filename).rename(hidden)  # gone from the server: a 404
    # Each good file waits on its first progress call until all four are
    # under way: downloads one after another would break the barrier.
    barrier = threading.Barrier(4, timeout=10)
    recorders: dict[str, Recorder] = {}

    def progress_factory(link: Link) -> Progress:
        recorder = recorders[link.filename] = Recorder()
        if link == broken:
            return recorder

        def first_waits(delta: int, total: int | None) -> None:
            if not recorder.calls:
                barrier.wait()
            recorder(delta, total)

        return first_waits

    out = tmp_path / "out"
    with pytest.raises(DownloadError) as excinfo:
        finder.download_all(links, out, workers=8, progress_factory=progress_factory)
    error = excinfo.value
    assert isinstance(error, NetworkError)
    assert list(error.failures) == [broken]
    assert str(error).startswith("1 of 5 files could not be downloaded:")
    assert f"{broken.filename}: " in str(error)
    assert "HTTP 404" in str(error)
    assert server.count(broken.filename) == 1  # a 404 is not retried
    for link in links:
        if link != broken:
            assert error.downloaded[link] == out / link.filename
            assert (out / link.filename).read_bytes() == (dists / link.filename).read_bytes()
            assert recorders[link.filename].done == (dists / link.filename).stat().st_size
    assert not (out / broken.filename).exists()
    # The next run fetches only what is missing.
    hidden.rename(dists / broken.filename)
    requests = server.count()
    again = make_finder(server.index_url()).download_all(links, out)
    assert again == {link: out / link.filename for link in links}
    assert [r.path for r in server.log[requests:]] == [server.log[-1].path]
    assert server.log[-1].path.endswith(broken.filename)


def test_interrupted_download_resumes_on_the_next_run(
    tmp_path: Path, server: IndexServer, dists: Path
) -> None:
    blob = hashlib.sha256(b"seed").digest() * 10_000
    path = build_wheel(
        dists, "big", "1.0", files={"big/blob.bin": blob}, compression=zipfile.ZIP_STORED
    )
    server.fail(path.name, "drop", after=100_000)
    impatient = HttpClient(transport=Transport(retries=0, backoff=0.01))
    first = Finder(IndexConfig((server.index_url(),)), impatient)
    wheel = only(first.files("big"))
    with pytest.raises(NetworkError, match="connection lost"):
        first.download(wheel, tmp_path / "out")
    assert first.cached_file(wheel) is None
    assert not (tmp_path / "out" / wheel.filename).exists()
    second = make_finder(server.index_url())
    progress = Recorder()
    assert second.download(wheel, tmp_path / "out", progress=progress).read_bytes() == (
        path.read_bytes()
    )
    assert server.log[-1].headers["range"] == "bytes=100000-"
    assert progress.calls[0] == (100_000, path.stat().st_size)
    assert progress.done == path.stat().st_size
