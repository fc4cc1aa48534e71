"""Tests for bundler.target.manifest: format detection, loading files, real manifests.

Each format has its own file: test_manifest_freeze.py, test_manifest_json.py,
test_manifest_installed_table.py, test_manifest_pins.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bundler.errors import InputError
from bundler.net.errors import HttpStatusError
from bundler.net.transport import Response
from bundler.target.manifest import (
    InstalledDist,
    load_manifest,
    load_manifest_from,
    parse_manifest,
)
from tests.helpers.manifest import SRC, versions
from tests.helpers.run import SHARED_TARGETS

TARGETS = SHARED_TARGETS
TARGET_FILES = sorted(TARGETS.glob("*.txt")) if TARGETS.is_dir() else []
needs_targets = pytest.mark.skipif(not TARGET_FILES, reason=f"{TARGETS} not present")


# ------------------------------------------------------------------ real manifests


@needs_targets
@pytest.mark.parametrize("path", TARGET_FILES, ids=lambda p: p.name)
def test_every_target_file_parses(path: Path) -> None:
    manifest = load_manifest(path)
    assert manifest
    assert list(manifest) == sorted(manifest)
    assert all(name == dist.name for name, dist in manifest.items())


@needs_targets
def test_colab_freeze_known_versions() -> None:
    path = TARGETS / "colab-gpu-base-2026-05-14.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    manifest = load_manifest(path)
    assert manifest["torch"].version == "2.10.0+cu128"
    assert manifest["jinja2"].version == "3.1.6"
    assert manifest["google-colab"] == InstalledDist(
        "google-colab", "1.0.0", url="file:///colabtools/dist/google_colab-1.0.0.tar.gz"
    )
    gateway = manifest["jupyter-kernel-gateway"]
    assert gateway.version is None
    assert gateway.url is not None
    assert gateway.url.startswith("git+https://github.com/googlecolab/kernel_gateway@")
    assert manifest["en-core-web-sm"].version == "3.8.0"  # wheel URL with #sha256=
    assert manifest["cucim-cu12"].version == "26.2.0"
    assert manifest["array-record"].version == "0.8.3"  # array_record, canonicalised


@needs_targets
def test_kaggle_cpu_freeze_known_versions() -> None:
    path = TARGETS / "kaggle-cpu-image-2026-06-17.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    manifest = load_manifest(path)
    assert manifest["torch"].version == "2.10.0+cpu"
    assert manifest["jinja2"].version == "3.1.6"  # written as Jinja2
    assert manifest["pyyaml"].version == "6.0.3"


@needs_targets
def test_2024_pins_file() -> None:
    path = TARGETS / "kaggle-gpu-pins-2024-05-16.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    manifest = load_manifest(path)
    assert "torch" in manifest
    assert {"torchvision", "torchaudio", "jax", "lightgbm", "tensorflow-io"} <= set(manifest)
    assert not any(name.startswith(("cuda", "base", "cpu", "gpu")) for name in manifest)
    assert "pytorch-build" not in manifest  # $PACKAGE_VERSION is not a version


# ------------------------------------------------------------------ format detection


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("numpy==2.0.2\n", {"numpy": "2.0.2"}),  # freeze
        ('[{"name": "numpy", "version": "2.0.2"}]', {"numpy": "2.0.2"}),  # JSON
        ('["a"]', "JSON"),  # both TOML header and JSON: JSON wins
        ('# capture\n[installed]\nnumpy = "2.0.2"\n', {"numpy": "2.0.2"}),  # TOML
        ('format = 1\n[installed]\nnumpy = "2.0.2"\n', {"numpy": "2.0.2"}),  # header later
        ("TORCH_VERSION=2.1.2\n", {"torch": "2.1.2"}),  # pins
        ("TORCH_VERSION=2.1.2\nnumpy==2.0.2\n", "cannot read"),  # pins in a freeze
    ],
)
def test_format_is_detected_from_the_content(text: str, expected: object) -> None:
    if isinstance(expected, dict):
        assert versions(text) == expected
    else:
        with pytest.raises(InputError, match=str(expected)):
            parse_manifest(text, SRC)


def test_bom_and_crlf() -> None:
    text = "\ufeffnumpy==2.0.2\r\n# comment\r\npandas==2.2.2\r\n"
    assert versions(text) == {"numpy": "2.0.2", "pandas": "2.2.2"}


def test_a_lone_cr_ends_a_line_as_in_requirement_files() -> None:
    assert versions("numpy==2.0.2\rpandas==2.2.2\r") == {"numpy": "2.0.2", "pandas": "2.2.2"}


def test_empty_text_is_an_empty_manifest() -> None:
    assert parse_manifest("", SRC) == {}
    assert parse_manifest("# nothing installed\n\n", SRC) == {}


# ---------------------------------------------------------------------- load_manifest


def test_load_manifest_reads_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_bytes(b"\xef\xbb\xbfnumpy==2.0.2\r\nsix==1.16.0\r\n")
    assert {n: d.version for n, d in load_manifest(path).items()} == {
        "numpy": "2.0.2",
        "six": "1.16.0",
    }


def test_load_manifest_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(InputError, match=re.escape(f"{missing}: no such file")):
        load_manifest(missing)
    with pytest.raises(InputError, match=re.escape(f"{tmp_path}: is a directory")):
        load_manifest(tmp_path)


def test_load_manifest_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"numpy==2.0.2\n# caf\xe9\n")
    with pytest.raises(InputError) as info:
        load_manifest(path)
    assert str(info.value).startswith(f"{path}:2: is not UTF-8 text")
    assert info.value.exit_code == 2

    utf16 = tmp_path / "powershell.txt"
    utf16.write_bytes("numpy==2.0.2\r\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        load_manifest(utf16)


def test_load_manifest_error_inside_file_names_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("numpy==2.0.2\nnumpy=1.0\n", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(f"{path}:2: cannot read 'numpy=1.0'")):
        load_manifest(path)


# ----------------------------------------------------------------- load_manifest_from

URL = "https://images.example/kaggle/freeze.txt"


class FakeClient:
    """Answers every GET with one status and body, and records the URLs asked for."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body = body
        self.status = status
        self.urls: list[str] = []

    def get(self, url: str) -> Response:
        self.urls.append(url)
        return Response(url, self.status, {}, self.body)


def test_a_manifest_url_is_fetched_and_named_by_its_url() -> None:
    client = FakeClient(b"\xef\xbb\xbfnumpy==2.0.2\r\nsix==1.16.0\r\n")

    manifest, source = load_manifest_from(URL, client)

    assert {n: d.version for n, d in manifest.items()} == {"numpy": "2.0.2", "six": "1.16.0"}
    assert source == URL and client.urls == [URL]


def test_a_manifest_url_that_answers_an_error_status_fails_as_the_network_does() -> None:
    with pytest.raises(HttpStatusError, match="HTTP 404"):
        load_manifest_from(URL, FakeClient(b"not found", status=404))


def test_a_manifest_url_that_is_not_utf8_names_the_url() -> None:
    with pytest.raises(InputError, match=re.escape(f"{URL}: is not UTF-8 text")):
        load_manifest_from(URL, FakeClient(b"numpy==2.0.2\n# caf\xe9\n"))


def test_a_manifest_url_kbundle_cannot_fetch_is_refused_before_any_request() -> None:
    client = FakeClient(b"")

    with pytest.raises(InputError) as info:
        load_manifest_from("ftp://images.example/freeze.txt", client)

    assert info.value.source == "--manifest" and client.urls == []


def test_a_path_or_file_url_is_read_from_disk_not_fetched(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text("numpy==2.0.2\n", encoding="utf-8")
    client = FakeClient(b"")

    for spec in (str(path), path.as_uri()):
        manifest, source = load_manifest_from(spec, client)
        assert list(manifest) == ["numpy"] and source == str(path)
    assert client.urls == []
