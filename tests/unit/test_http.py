"""The HTTP client: caching, revalidation, offline mode, retries, ranges, files."""

from __future__ import annotations

import hashlib
import socket
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.cache import atomic_write, atomic_writer, cache_dir
from bundler.errors import InputError, NetworkError, OfflineMiss
from bundler.index.simple_api import ACCEPT
from bundler.net.http import HashMismatch, HttpClient, RangeNotSupported, redact_url
from tests.helpers.index_server import IndexServer
from tests.helpers.wheels import build_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def dists(tmp_path: Path) -> Path:
    build_wheel(tmp_path / "dists", "demo", "1.0", requires=["six"])
    return tmp_path / "dists"


@pytest.fixture
def server(dists: Path) -> Iterator[IndexServer]:
    with IndexServer({"simple": dists}) as running:
        yield running


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HttpClient:
    monkeypatch.setenv("KBUNDLE_CACHE_DIR", str(tmp_path / "cache"))
    return HttpClient(backoff=0.01)


def make_client(tmp_path: Path, *, offline: bool = False, refresh: bool = False) -> HttpClient:
    return HttpClient(cache_root=tmp_path / "cache", backoff=0.01, offline=offline, refresh=refresh)


def page_url(server: IndexServer) -> str:
    return server.index_url() + "demo/"


def test_cache_dir_env_override_and_default(tmp_path: Path) -> None:
    assert cache_dir({"KBUNDLE_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert cache_dir({}).name == "kbundle"


def test_atomic_write_leaves_only_complete_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.bin"
    atomic_write(target, b"complete")

    def interrupted_write() -> None:
        with atomic_writer(target) as handle:
            handle.write(b"half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_write()
    assert target.read_bytes() == b"complete"
    assert [p.name for p in target.parent.iterdir()] == ["b.bin"]


def test_redact_url_hides_credentials() -> None:
    assert redact_url("https://user:secret@host/simple/") == "https://****@host/simple/"
    assert redact_url("https://token@host/x") == "https://****@host/x"
    assert redact_url("https://host/x") == "https://host/x"


def test_get_uses_the_cache_directory_and_revalidates_with_etag(
    tmp_path: Path, client: HttpClient, server: IndexServer
) -> None:
    first = client.get(page_url(server), headers={"Accept": ACCEPT})
    assert first.status == 200
    assert first.content_type == "application/vnd.pypi.simple.v1+json"
    assert any((tmp_path / "cache" / "http").rglob("*"))
    second = client.get(page_url(server), headers={"Accept": ACCEPT})
    assert second.body == first.body
    assert second.from_cache
    # No freshness information: the second GET revalidated and got a 304.
    assert [r.status for r in server.log] == [200, 304]
    assert server.log[1].headers["if-none-match"].startswith('"')


def test_cache_control_max_age_avoids_requests(tmp_path: Path, server: IndexServer) -> None:
    server.cache_control = "max-age=600"
    client = make_client(tmp_path)
    client.get(page_url(server))
    client.get(page_url(server))
    assert server.count() == 1


def test_default_max_age_applies_without_cache_control(tmp_path: Path, server: IndexServer) -> None:
    server.use_etags = False
    client = make_client(tmp_path)
    client.get(page_url(server), max_age=600)
    assert client.get(page_url(server), max_age=600).from_cache
    assert server.count() == 1
    client.get(page_url(server))  # no max_age: stale at once, no validator: refetch
    assert server.count() == 2


def test_accept_header_is_part_of_the_cache_key(tmp_path: Path, server: IndexServer) -> None:
    server.cache_control = "max-age=600"
    client = make_client(tmp_path)
    json_page = client.get(page_url(server), headers={"Accept": ACCEPT})
    html_page = client.get(page_url(server), headers={"Accept": "text/html"})
    assert json_page.content_type != html_page.content_type
    assert server.count() == 2


def test_no_store_is_not_cached(tmp_path: Path, server: IndexServer) -> None:
    server.cache_control = "no-store"
    client = make_client(tmp_path)
    client.get(page_url(server))
    client.get(page_url(server))
    assert [r.status for r in server.log] == [200, 200]


def test_refresh_revalidates_fresh_entries(tmp_path: Path, server: IndexServer) -> None:
    server.cache_control = "max-age=600"
    make_client(tmp_path).get(page_url(server))
    make_client(tmp_path, refresh=True).get(page_url(server))
    assert [r.status for r in server.log] == [200, 304]


def test_offline_answers_from_cache_only(tmp_path: Path, server: IndexServer) -> None:
    url = page_url(server)
    make_client(tmp_path).get(url)
    missing = server.index_url() + "other/"
    never = server.index_url() + "never-fetched/"
    assert make_client(tmp_path).get(missing).status == 404
    server.stop()
    offline = make_client(tmp_path, offline=True)
    assert offline.get(url).status == 200
    assert offline.get(missing).status == 404  # "not on this index" is remembered
    with pytest.raises(OfflineMiss) as excinfo:
        offline.get(never)
    assert "never-fetched" in str(excinfo.value)
    assert "without --offline" in str(excinfo.value)
    with pytest.raises(OfflineMiss):
        offline.get_range(url, 0, 10)


def test_5xx_and_dropped_connections_are_retried(tmp_path: Path, server: IndexServer) -> None:
    client = make_client(tmp_path)
    server.fail("/demo/", "500")
    assert client.get(page_url(server), cache=False).status == 200
    server.fail("/demo/", "drop")
    assert client.get(page_url(server), cache=False).status == 200
    assert [r.status for r in server.log] == [500, 200, 200, 200]


def test_persistent_failure_becomes_network_error(tmp_path: Path, server: IndexServer) -> None:
    server.fail("/demo/", "500", times=10)
    client = HttpClient(cache_root=tmp_path, backoff=0.01, retries=2)
    with pytest.raises(NetworkError, match="tried 3 times"):
        client.get(page_url(server))
    assert server.count() == 3


def test_connection_refused_is_a_network_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpClient(cache_root=tmp_path, backoff=0.01, retries=1)
    with pytest.raises(NetworkError) as excinfo:
        client.get(f"http://user:hunter2@127.0.0.1:{port}/simple/x/")
    assert "hunter2" not in str(excinfo.value)
    assert "****@127.0.0.1" in str(excinfo.value)


def test_credentials_in_url_become_basic_auth(tmp_path: Path, server: IndexServer) -> None:
    url = page_url(server).replace("http://", "http://alice:s%40cret@")
    response = make_client(tmp_path).get(url)
    assert response.url == url  # the base for relative links keeps its credentials
    # "alice:s@cret" in base64
    assert server.log[0].headers["authorization"] == "Basic YWxpY2U6c0BjcmV0"


def test_ranges(tmp_path: Path, server: IndexServer, dists: Path) -> None:
    (wheel,) = dists.iterdir()
    data = wheel.read_bytes()
    url = server.index_url() + "files/" + wheel.name
    client = make_client(tmp_path)
    assert client.get_range(url, 10, 19) == data[10:20]
    assert client.get_tail(url, 100) == (len(data), data[-100:])
    assert client.get_tail(url, 10 * len(data)) == (len(data), data)
    server.honor_ranges = False
    with pytest.raises(RangeNotSupported):
        client.get_tail(url, 100)
    with pytest.raises(RangeNotSupported):
        client.get_range(url, 0, 5)


def test_fetch_file_verifies_and_retries(tmp_path: Path, server: IndexServer, dists: Path) -> None:
    (wheel,) = dists.iterdir()
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    url = server.index_url() + "files/" + wheel.name
    client = make_client(tmp_path)
    server.fail(wheel.name, "drop")
    dest = tmp_path / "out" / wheel.name
    assert client.fetch_file(url, dest, sha256=sha) == sha
    assert dest.read_bytes() == wheel.read_bytes()
    bad = tmp_path / "bad" / wheel.name
    with pytest.raises(HashMismatch):
        client.fetch_file(url, bad, sha256="0" * 64)
    assert not bad.parent.exists() or not any(bad.parent.iterdir())
    with pytest.raises(NetworkError, match="HTTP 404"):
        client.fetch_file(url + "-missing", tmp_path / "missing")


def test_file_urls(tmp_path: Path, dists: Path) -> None:
    site = tmp_path / "site" / "simple" / "demo"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<a href='../../x.whl'>x.whl</a>")
    client = HttpClient(cache_root=tmp_path / "cache", offline=True)  # local is not network
    response = client.get(site.as_uri())
    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.url.endswith("/simple/demo/")
    assert client.get((tmp_path / "nothing").as_uri()).status == 404
    (wheel,) = dists.iterdir()
    data = wheel.read_bytes()
    assert client.get_range(wheel.as_uri(), 3, 7) == data[3:8]
    assert client.get_tail(wheel.as_uri(), 50) == (len(data), data[-50:])
    copied = tmp_path / "copy.whl"
    client.fetch_file(wheel.as_uri(), copied, sha256=hashlib.sha256(data).hexdigest())
    assert copied.read_bytes() == data


# -- whole files: resuming, verifying, progress ------------------------------------


class Recorder:
    """A progress callback that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []
        self._lock = threading.Lock()

    def __call__(self, delta: int, total: int | None) -> None:
        with self._lock:
            self.calls.append((delta, total))

    @property
    def done(self) -> int:
        return sum(delta for delta, _ in self.calls)


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
    client = HttpClient(cache_root=tmp_path / "cache", backoff=0.001, retries=1)
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
    client = HttpClient(cache_root=tmp_path / "cache", backoff=0.001, retries=2)
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


def test_progress_of_a_local_copy(tmp_path: Path, big: Path) -> None:
    progress = Recorder()
    client = HttpClient(cache_root=tmp_path / "cache", offline=True)
    client.fetch_file(big.as_uri(), tmp_path / "copy.whl", progress=progress)
    assert progress.done == big.stat().st_size
    assert {total for _, total in progress.calls} == {big.stat().st_size}


def test_missing_ca_bundle_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="PIP_CERT"):
        HttpClient(cache_root=tmp_path, environ={"PIP_CERT": str(tmp_path / "nope.pem")})
