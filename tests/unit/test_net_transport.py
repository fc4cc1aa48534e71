"""The wire: retries with backoff, unreachable hosts, credentials, the CA bundle, TLS."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.errors import InputError, NetworkError
from bundler.net.client import HttpClient
from bundler.net.transport import Transport, tls_context
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


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed key and certificate for 127.0.0.1, in one PEM file."""
    if shutil.which("openssl") is None:
        pytest.fail("these tests need the openssl command (Debian: apt install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    command = ["openssl", "req", "-x509", "-newkey", "ec"]
    command += ["-pkeyopt", "ec_paramgen_curve:prime256v1"]
    command += ["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    both = folder / "server.pem"
    both.write_bytes(key.read_bytes() + cert.read_bytes())
    return cert


@pytest.fixture
def tls_server(dists: Path, certificate: Path) -> Iterator[IndexServer]:
    with IndexServer({"simple": dists}, tls_cert=certificate.parent / "server.pem") as running:
        yield running


def test_https_with_the_ca_bundle_of_pip_cert(tmp_path: Path, tls_server: IndexServer) -> None:
    before = tls_context.cache_info()
    for run in range(3):  # three clients, as a lock and its follower passes make
        client = HttpClient(
            cache_root=tmp_path / str(run),
            environ={"PIP_CERT": str(tls_server.tls_cert).replace("server", "cert")},
        )
        assert client.get(page_url(tls_server), cache=False).status == 200
    after = tls_context.cache_info()
    # The trust store is loaded once, not once a connection (urllib3's own default).
    assert after.misses - before.misses <= 1
    assert after.hits > before.hits


def test_an_untrusted_certificate_is_a_tls_error(tmp_path: Path, tls_server: IndexServer) -> None:
    client = HttpClient(cache_root=tmp_path, transport=Transport(retries=0, environ={}))
    with pytest.raises(NetworkError, match="TLS failure") as excinfo:
        client.get(page_url(tls_server))
    assert "PIP_CERT" in (excinfo.value.hint or "")


def test_a_ca_bundle_that_is_not_pem_is_an_input_error(tmp_path: Path, server: IndexServer) -> None:
    bogus = tmp_path / "bundle.pem"
    bogus.write_text("not a certificate\n")
    client = HttpClient(cache_root=tmp_path, environ={"SSL_CERT_FILE": str(bogus)})
    with pytest.raises(InputError, match="not a CA bundle") as excinfo:
        client.get(page_url(server))
    assert str(bogus) in str(excinfo.value)
