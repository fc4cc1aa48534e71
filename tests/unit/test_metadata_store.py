"""Core metadata: PEP 658, range reads, full downloads, checks, caching across runs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.errors import NetworkError, OfflineMiss
from bundler.index.simple_api import make_link
from bundler.net.errors import HashMismatch
from tests.helpers.finder import make_finder, metadata_of, only
from tests.helpers.index_server import IndexServer
from tests.helpers.wheels import build_sdist, build_wheel, core_metadata

if TYPE_CHECKING:
    from bundler.index.simple_api import Link


pytestmark = pytest.mark.usefixtures("cache_in_tmp")


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
