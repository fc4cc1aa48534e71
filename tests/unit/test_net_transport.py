"""The wire: retries with backoff, unreachable hosts, credentials, the CA bundle."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.errors import InputError, NetworkError
from bundler.net.client import HttpClient
from bundler.net.transport import Transport
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


def page_url(server: IndexServer) -> str:
    return server.index_url() + "demo/"


def test_5xx_and_dropped_connections_are_retried(tmp_path: Path, server: IndexServer) -> None:
    client = make_client(tmp_path)
    server.fail("/demo/", "500")
    assert client.get(page_url(server), cache=False).status == 200
    server.fail("/demo/", "drop")
    assert client.get(page_url(server), cache=False).status == 200
    assert [r.status for r in server.log] == [500, 200, 200, 200]


def test_persistent_failure_becomes_network_error(tmp_path: Path, server: IndexServer) -> None:
    server.fail("/demo/", "500", times=10)
    client = HttpClient(cache_root=tmp_path, transport=Transport(backoff=0.01, retries=2))
    with pytest.raises(NetworkError, match="tried 3 times"):
        client.get(page_url(server))
    assert server.count() == 3


def test_connection_refused_is_a_network_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpClient(cache_root=tmp_path, transport=Transport(backoff=0.01, retries=1))
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


def test_missing_ca_bundle_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="PIP_CERT"):
        HttpClient(cache_root=tmp_path, environ={"PIP_CERT": str(tmp_path / "nope.pem")})
