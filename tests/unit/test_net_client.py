"""The client's API: URL helpers, ranges, whole files, file:// URLs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.errors import NetworkError
from bundler.net.client import HttpClient
from bundler.net.errors import HashMismatch, RangeNotSupported
from bundler.net.urls import redact_url
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


def test_redact_url_hides_credentials() -> None:
    assert redact_url("https://user:secret@host/simple/") == "https://****@host/simple/"
    assert redact_url("https://token@host/x") == "https://****@host/x"
    assert redact_url("https://host/x") == "https://host/x"


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
