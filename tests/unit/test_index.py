"""The finder: index priority, find-links, metadata paths, caching, downloads."""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.errors import InputError, NetworkError, OfflineMiss
from bundler.index.finder import (
    PYPI_SIMPLE_URL,
    DownloadError,
    Finder,
    IndexConfig,
    default_index_url,
    expand_index_url,
)
from bundler.index.lazy_wheel import fetch_wheel_metadata
from bundler.index.simple_api import make_link
from bundler.net.client import HttpClient
from bundler.net.errors import HashMismatch
from tests.helpers.index_server import IndexServer
from tests.helpers.wheels import build_sdist, build_wheel, core_metadata

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bundler.index.simple_api import Link
    from bundler.net.download import Progress


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBUNDLE_CACHE_DIR", str(tmp_path / "cache"))
    for key in list(os.environ):
        if key.startswith("PIP_") and key != "PIP_CERT":
            monkeypatch.delenv(key)


@pytest.fixture
def dists(tmp_path: Path) -> Path:
    return tmp_path / "dists"


@pytest.fixture
def server(dists: Path) -> Iterator[IndexServer]:
    dists.mkdir()
    with IndexServer({"simple": dists}) as running:
        yield running


def make_finder(
    *index_urls: str, offline: bool = False, refresh: bool = False, **options: object
) -> Finder:
    client = HttpClient(offline=offline, refresh=refresh, backoff=0.01)
    return Finder(IndexConfig(index_urls, **options), client)  # type: ignore[arg-type]


def metadata_of(finder: Finder, link: Link) -> bytes:
    """The metadata of a file that has some."""
    data = finder.metadata(link)
    assert data is not None
    return data


def only(links: list[Link], suffix: str = ".whl") -> Link:
    (link,) = [link for link in links if link.filename.endswith(suffix)]
    return link


# -- default index ------------------------------------------------------------


def test_default_index_url_from_environment() -> None:
    assert default_index_url({"PIP_INDEX_URL": "https://a.test/simple"}) == "https://a.test/simple"
    assert default_index_url({"PIP_CONFIG_FILE": os.devnull}) == PYPI_SIMPLE_URL


def test_default_index_url_follows_pips_file_order(tmp_path: Path) -> None:
    def conf(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_DIRS": str(tmp_path / "xdg"),
        "VIRTUAL_ENV": str(tmp_path / "venv"),
    }
    conf(tmp_path / "xdg" / "pip" / "pip.conf", "[global]\nindex-url = https://xdg.test/\n")
    assert default_index_url(env) == "https://xdg.test/"
    conf(tmp_path / "home" / ".pip" / "pip.conf", "[global]\nindex_url = https://legacy.test/\n")
    assert default_index_url(env) == "https://legacy.test/"
    conf(tmp_path / "home" / ".config" / "pip" / "pip.conf", "[global]\nindex-url=https://u.test/")
    assert default_index_url(env) == "https://u.test/"
    conf(tmp_path / "venv" / "pip.conf", "[global]\nindex-url = https://venv.test/\n")
    assert default_index_url(env) == "https://venv.test/"
    conf(tmp_path / "env.conf", "[global]\nindex-url = https://env.test/\nextra-index-url = x\n")
    assert default_index_url({**env, "PIP_CONFIG_FILE": str(tmp_path / "env.conf")}) == (
        "https://env.test/"
    )
    # As for `pip install`, an [install] value beats every [global] one.
    conf(tmp_path / "xdg" / "pip" / "pip.conf", "[install]\nindex-url = https://install.test/\n")
    assert default_index_url(env) == "https://install.test/"
    conf(tmp_path / "venv" / "pip.conf", "not an ini file")
    assert default_index_url(env) == "https://install.test/"


# -- configuration --------------------------------------------------------------


def test_expand_index_url() -> None:
    assert expand_index_url("https://x.test/whl/{cuda}", "cu121") == ("https://x.test/whl/cu121/",)
    assert expand_index_url("https://x.test/simple/", None) == ("https://x.test/simple/",)
    # Several tags: one URL each, in the order of preference given.
    assert expand_index_url("https://x.test/whl/{cuda}", ("cu128", "cu124")) == (
        "https://x.test/whl/cu128/",
        "https://x.test/whl/cu124/",
    )
    assert expand_index_url("https://x.test/simple", ("cu128", "cu124")) == (
        "https://x.test/simple/",
    )
    with pytest.raises(InputError, match=r"https://x.test/whl/\{cuda\}"):
        expand_index_url("https://x.test/whl/{cuda}", None)
    with pytest.raises(InputError, match="unknown placeholder"):
        expand_index_url("https://x.test/{rocm}/", "cu121")


def test_cuda_template_selects_one_of_two_loopback_indexes(tmp_path: Path) -> None:
    for cuda in ("cu121", "cu124"):
        build_wheel(tmp_path / cuda, "torch", f"2.3.0+{cuda}", tag="cp311-cp311-linux_x86_64")
    with IndexServer({"whl/cu121": tmp_path / "cu121", "whl/cu124": tmp_path / "cu124"}) as srv:
        template = srv.url + "whl/{cuda}"
        finder = make_finder(template, cuda="cu124")
        (link,) = finder.files("torch")
        assert str(link.version) == "2.3.0+cu124"
        assert link.index_url == srv.url + "whl/cu124/"
        assert b"Version: 2.3.0+cu124" in metadata_of(finder, link)
        with pytest.raises(InputError, match="needs a CUDA tag"):
            make_finder(template)


def test_cuda_index_pin_falls_back_when_unreachable_or_unknown(tmp_path: Path) -> None:
    """--cuda-index: no reachable variant index has it → the ordinary index (an sdist)."""
    build_sdist(tmp_path / "simple", "llama-cpp-python", "0.3.16")
    build_wheel(tmp_path / "cu121", "other", "1.0")
    with IndexServer({"simple": tmp_path / "simple", "whl/cu121": tmp_path / "cu121"}) as srv:
        dead = "http://127.0.0.1:9/whl/{cuda}"  # the discard port: refused at once
        for template in (dead, srv.url + "whl/{cuda}"):
            pins = {"llama-cpp-python": template}
            finder = make_finder(
                srv.index_url(), pins=pins, cuda=("cu121", "cu120"), pin_fallback=frozenset(pins)
            )
            (link,) = finder.files("llama-cpp-python")
            assert link.filename == "llama_cpp_python-0.3.16.tar.gz"
            strict = make_finder(srv.index_url(), pins=pins, cuda=("cu121",))
            if template == dead:
                with pytest.raises(NetworkError):
                    strict.files("llama-cpp-python")
            else:
                assert strict.files("llama-cpp-python") == []  # a plain pin never falls back


# -- which files ------------------------------------------------------------------


def test_first_index_that_knows_a_name_wins(tmp_path: Path) -> None:
    build_wheel(tmp_path / "first", "alpha", "1.0")
    build_wheel(tmp_path / "second", "alpha", "2.0")
    build_wheel(tmp_path / "second", "beta", "1.0")
    build_wheel(tmp_path / "links", "alpha", "3.0")
    build_wheel(tmp_path / "links", "beta", "3.0")
    with IndexServer({"first": tmp_path / "first", "second": tmp_path / "second"}) as srv:
        first, second = srv.index_url("first"), srv.index_url("second")
        finder = make_finder(first, second)
        assert [str(link.version) for link in finder.files("Alpha")] == ["1.0"]  # no merging
        assert [link.index_url for link in finder.files("beta")] == [second]
        assert finder.files("gamma") == []
        linked = make_finder(first, second, find_links=(str(tmp_path / "links"),))
        alpha = linked.files("alpha")
        assert [(str(link.version), link.index_url) for link in alpha] == [
            ("1.0", first),
            ("3.0", None),
        ]
        assert alpha[1].url.startswith("file://")
        # A pinned package looks only at its own index: no find-links either.
        pinned = make_finder(first, find_links=(str(tmp_path / "links"),), pins={"ALPHA": second})
        assert [str(link.version) for link in pinned.files("alpha")] == ["2.0"]
        assert [str(link.version) for link in pinned.files("beta")] == ["3.0"]


def test_memoised_per_finder(server: IndexServer, dists: Path) -> None:
    build_wheel(dists, "demo", "1.0")
    finder = make_finder(server.index_url())
    assert finder.files("demo") == finder.files("DEMO")
    assert server.count("/simple/demo/") == 1


def static_index(root: Path, dists: Path) -> str:
    """A file:// index laid out like a static mirror: <root>/simple/<name>/index.html."""
    (root / "files").mkdir(parents=True)
    pages: dict[str, list[str]] = {}
    for path in sorted(dists.iterdir()):
        (root / "files" / path.name).write_bytes(path.read_bytes())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        href = f"../../files/{path.name}#sha256={digest}"
        pages.setdefault(path.name.split("-")[0], []).append(f'<a href="{href}">{path.name}</a>')
    for name, anchors in pages.items():
        page = root / "simple" / name / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"<!DOCTYPE html><html><body>{''.join(anchors)}</body></html>")
    return (root / "simple").as_uri()


def test_file_index_and_find_links(tmp_path: Path) -> None:
    build_wheel(tmp_path / "d", "demo", "1.0", requires=["six"])
    build_sdist(tmp_path / "d", "demo", "0.9", metadata_version="2.2")
    index = static_index(tmp_path / "mirror", tmp_path / "d")
    finder = make_finder(index, offline=True)  # local files are not network
    links = finder.files("demo")
    assert sorted(link.filename for link in links) == [
        "demo-0.9.tar.gz",
        "demo-1.0-py3-none-any.whl",
    ]
    wheel = only(links)
    assert wheel.url == (tmp_path / "mirror" / "files" / wheel.filename).as_uri()
    assert wheel.sha256 is not None
    assert b"Requires-Dist: six" in metadata_of(finder, wheel)
    assert b"Version: 0.9" in metadata_of(finder, only(links, ".tar.gz"))
    downloaded = finder.download(wheel, tmp_path / "out")
    assert downloaded.read_bytes() == (tmp_path / "d" / wheel.filename).read_bytes()
    # find-links: an HTML file and a file:// directory URL
    html = tmp_path / "links.html"
    html.write_text('<a href="d/demo-1.0-py3-none-any.whl">w</a>')
    finder = make_finder(index, find_links=(str(html), (tmp_path / "d").as_uri()))
    assert len(finder.files("demo")) == 2 + 1 + 2
    with pytest.raises(InputError, match="does not exist"):
        make_finder(index, find_links=(str(tmp_path / "nowhere"),)).files("demo")


# -- metadata -----------------------------------------------------------------------


def test_pep658_metadata_is_used_and_hash_checked(server: IndexServer, dists: Path) -> None:
    build_wheel(dists, "demo", "1.0", requires=["six"])
    finder = make_finder(server.index_url())
    wheel = only(finder.files("demo"))
    assert wheel.metadata_hashes is not None
    assert finder.metadata(wheel) == core_metadata("demo", "1.0", requires=["six"])
    assert server.count(".metadata") == 1
    assert not [request for request in server.log if request.path.endswith(".whl")]


def test_pep658_metadata_hash_mismatch(server: IndexServer, dists: Path) -> None:
    path = build_wheel(dists, "demo", "1.0", requires=["six"])
    server.metadata_overrides[path.name] = core_metadata("demo", "1.0", requires=["evil"])
    finder = make_finder(server.index_url())
    with pytest.raises(HashMismatch, match="sha256"):
        finder.metadata(only(finder.files("demo")))


def test_range_path_takes_few_requests(server: IndexServer, dists: Path) -> None:
    server.serve_metadata = False  # like a mirror without PEP 658 files
    blob = hashlib.sha256(b"seed").digest() * 20_000  # 640 KB that does not compress
    build_wheel(dists, "demo", "1.0", requires=["six"], files={"demo/blob.bin": blob})
    finder = make_finder(server.index_url())
    wheel = only(finder.files("demo"))
    assert wheel.metadata_hashes is None
    assert finder.metadata(wheel) == core_metadata("demo", "1.0", requires=["six"])
    assert 1 <= server.count(".whl", ranged=True) <= 2
    assert server.count(".whl", ranged=False) == 0


def test_full_download_when_ranges_are_ignored(server: IndexServer, dists: Path) -> None:
    server.serve_metadata = False
    server.honor_ranges = False
    build_wheel(dists, "demo", "1.0", requires=["six"])
    finder = make_finder(server.index_url())
    wheel = only(finder.files("demo"))
    assert b"Requires-Dist: six" in metadata_of(finder, wheel)
    requests = server.count(".whl")
    # The full download landed in the cache: vendoring it needs no request.
    finder.download(wheel, server.indexes["simple"].parent / "out")
    assert server.count(".whl") == requests


def test_inconsistent_metadata_is_refused(server: IndexServer, dists: Path) -> None:
    path = build_wheel(dists, "demo", "1.0")
    path.rename(dists / "demo-1.1-py3-none-any.whl")
    finder = make_finder(server.index_url())
    with pytest.raises(NetworkError, match=r"holds metadata for demo 1\.0"):
        finder.metadata(only(finder.files("demo")))


def test_sdists(server: IndexServer, dists: Path) -> None:
    build_sdist(dists, "static", "1.0", metadata_version="2.2", requires=["six"])
    build_sdist(dists, "dynamic", "1.0", metadata_version="2.1", requires=["six"])
    finder = make_finder(server.index_url())
    static, dynamic = only(finder.files("static"), ".gz"), only(finder.files("dynamic"), ".gz")
    assert b"Requires-Dist: six" in metadata_of(finder, static)
    assert finder.metadata(dynamic) is None  # only a build backend could tell
    requests = server.count()
    # Both answers are cached: a second run downloads neither sdist again.
    warm = make_finder(server.index_url())
    assert b"Requires-Dist: six" in metadata_of(warm, static)
    assert warm.metadata(dynamic) is None
    assert server.count() == requests


def test_prefetch_in_parallel_then_no_requests(server: IndexServer, dists: Path) -> None:
    server.serve_metadata = False
    for minor in range(20):
        build_wheel(dists, "demo", f"1.{minor}", requires=[f"dep{minor}"])
    finder = make_finder(server.index_url())
    links = finder.files("demo")
    broken = make_link("demo-9.0-py3-none-any.whl", server.index_url() + "files/missing.whl")
    assert broken is not None
    finder.prefetch_metadata([*links, broken])
    requests = server.count()
    for link in links:
        assert f"Requires-Dist: dep{link.version.minor}".encode() in metadata_of(finder, link)
    with pytest.raises(NetworkError, match="404"):
        finder.metadata(broken)  # the failure was remembered, not retried
    assert server.count() == requests


# -- caching across runs ---------------------------------------------------------------


def warm_up(server: IndexServer, dists: Path) -> list[Link]:
    server.serve_metadata = False
    for version in ("1.0", "2.0"):
        build_wheel(dists, "demo", version, requires=["six"])
    finder = make_finder(server.index_url())
    links = finder.files("demo")
    finder.prefetch_metadata(links)
    return links


def test_warm_cache_needs_no_network(server: IndexServer, dists: Path) -> None:
    links = warm_up(server, dists)
    requests = server.count()
    second = make_finder(server.index_url())
    assert second.files("demo") == links
    assert all(second.metadata(link) for link in links)
    assert server.count() == requests  # the page is fresh for PAGE_MAX_AGE
    index_url = server.index_url()
    server.stop()
    offline = make_finder(index_url, offline=True)
    assert all(offline.metadata(link) for link in offline.files("demo"))


def test_stale_page_is_revalidated_metadata_is_not(server: IndexServer, dists: Path) -> None:
    server.cache_control = "max-age=0"
    links = warm_up(server, dists)
    requests = server.count()
    for finder in (make_finder(server.index_url()), make_finder(server.index_url(), refresh=True)):
        assert finder.files("demo") == links
        assert all(finder.metadata(link) for link in links)
    assert [r.status for r in server.log[requests:]] == [304, 304]


def test_offline_miss_names_the_url(server: IndexServer, dists: Path) -> None:
    build_wheel(dists, "demo", "1.0")
    offline = make_finder(server.index_url(), offline=True)
    with pytest.raises(OfflineMiss, match="/simple/demo/") as excinfo:
        offline.files("demo")
    assert "without --offline" in str(excinfo.value)
    wheel = only(make_finder(server.index_url()).files("demo"))
    with pytest.raises(OfflineMiss, match=wheel.filename):
        make_finder(server.index_url(), offline=True).metadata(wheel)
    assert server.count(".whl") == 0


def test_files_without_sha256_are_not_trusted_as_immutable(
    server: IndexServer, dists: Path
) -> None:
    server.serve_metadata = False
    build_wheel(dists, "demo", "1.0")
    wheel = make_link(
        "demo-1.0-py3-none-any.whl", server.index_url() + "files/demo-1.0-py3-none-any.whl"
    )
    assert wheel is not None
    assert wheel.sha256 is None
    make_finder(server.index_url()).metadata(wheel)
    requests = server.count()
    make_finder(server.index_url()).metadata(wheel)
    assert server.count() > requests  # refetched online
    requests = server.count()
    make_finder(server.index_url(), offline=True).metadata(wheel)
    assert server.count() == requests  # but good enough offline


# -- downloads --------------------------------------------------------------------


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


class Recorder:
    """A progress callback that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, delta: int, total: int | None) -> None:
        self.calls.append((delta, total))

    @property
    def done(self) -> int:
        return sum(delta for delta, _ in self.calls)


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
    impatient = HttpClient(retries=0, backoff=0.01)
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


# -- the real index ----------------------------------------------------------------------


@pytest.mark.network
def test_real_pypi_pages_and_range_metadata(tmp_path: Path) -> None:
    client = HttpClient(cache_root=tmp_path)
    finder = Finder(IndexConfig((PYPI_SIMPLE_URL,)), client, cache_root=tmp_path)
    llama = finder.files("llama-cpp-python")
    assert any(link.is_sdist and link.sha256 for link in llama)
    name = "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    (wheel,) = [link for link in finder.files("numpy") if link.filename == name]
    metadata = fetch_wheel_metadata(client, wheel.url, wheel.filename)
    assert b"Name: numpy\n" in metadata
    assert b"Version: 2.2.6\n" in metadata


def test_find_links_files_are_hashed_once_until_they_change(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "d", "demo", "1.0")
    (tmp_path / "empty").mkdir()
    index = static_index(tmp_path / "mirror", tmp_path / "empty")
    first = only(make_finder(index, find_links=(str(tmp_path / "d"),)).files("demo"))
    assert first.sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest()
    # The digest is remembered by path, size and mtime: a second lock does not
    # read the file (a planted memo proves it is what answers)...
    [memo] = [
        p
        for p in (Path(os.environ["KBUNDLE_CACHE_DIR"]) / "local-sha256").rglob("*")
        if p.is_file()
    ]
    memo.write_text("ab" * 32)
    again = only(make_finder(index, find_links=(str(tmp_path / "d"),)).files("demo"))
    assert again.sha256 == "ab" * 32
    # ...and a rewritten file is hashed again.
    build_wheel(tmp_path / "d", "demo", "1.0", files={"demo/__init__.py": b"NEW = 1\n"})
    changed = only(make_finder(index, find_links=(str(tmp_path / "d"),)).files("demo"))
    assert changed.sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest() != first.sha256
