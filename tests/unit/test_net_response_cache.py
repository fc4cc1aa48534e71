"""Cached whole responses: freshness, revalidation, the cache key, offline answers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.errors import OfflineMiss
from bundler.index.simple_api import ACCEPT
from bundler.net.client import HttpClient
from bundler.net.response_cache import Entry, cache_control
from bundler.net.transport import Response, Transport
from tests.helpers.index_server import IndexServer
from tests.helpers.net import make_client
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
    return HttpClient(transport=Transport(backoff=0.01))


def page_url(server: IndexServer) -> str:
    return server.index_url() + "demo/"


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


def test_cache_control_directives() -> None:
    headers = {"cache-control": 'max-age=600, No-Cache, private="x"'}
    assert cache_control(headers) == {"max-age": "600", "no-cache": "", "private": "x"}
    assert cache_control({}) == {}


def test_entry_round_trip_stores_no_credentials() -> None:
    url = "https://user:secret@host.test/simple/demo/"
    response = Response(url, 200, {"etag": '"1"', "cache-control": "max-age=60"}, b"<html>")
    entry = Entry(response, stored_at=1000.0)
    data = entry.encode(url)
    assert b"secret" not in data
    decoded = Entry.decode(data, url)
    assert decoded is not None
    assert decoded.response == replace(response, from_cache=True)
    assert decoded.is_fresh(1059.0, None)
    assert not decoded.is_fresh(1060.0, None)
    assert decoded.validators() == {"If-None-Match": '"1"'}
    assert Entry.decode(b"not json\nbody", url) is None


def test_default_lifetime_and_no_cache() -> None:
    entry = Entry(Response("u", 200, {}, b""), stored_at=0.0)
    assert entry.is_fresh(10.0, 600.0)
    assert not entry.is_fresh(10.0, None)  # no lifetime at all: always revalidate
    no_cache = Entry(Response("u", 200, {"cache-control": "no-cache"}, b""), stored_at=0.0)
    assert not no_cache.is_fresh(0.0, 600.0)
