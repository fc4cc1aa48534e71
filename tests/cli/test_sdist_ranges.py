"""Locking an sdist reads only the front of it, with HTTP range requests, when it can."""

from __future__ import annotations

import io
import json
import random
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index_server import IndexServer
from tests.helpers.run import run_cli
from tests.helpers.wheels import build_wheel

FILLER = random.Random(3).randbytes(24_000_000)  # incompressible: 24 MB in the .tar.gz too
STATIC = b'[project]\nname = "zzsrc"\nversion = "1.0"\ndependencies = ["zzdep>=1"]\n'
DYNAMIC = b'[project]\nname = "zzsrc"\nversion = "1.0"\ndynamic = ["dependencies"]\n'
PKG_INFO_22 = b"Metadata-Version: 2.2\nName: zzsrc\nVersion: 1.0\nRequires-Dist: zzdep>=1\n"


def _sdist(directory: Path, members: list[tuple[str, bytes]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "zzsrc-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(f"zzsrc-1.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def simple(tmp_path: Path) -> Path:
    simple = tmp_path / "index" / "simple"
    build_wheel(simple, "zzdep", "1.5")
    return simple


def _lock(server: IndexServer, tmp_path: Path) -> dict[str, str]:
    res = run_cli(
        "lock",
        "zzsrc",
        "--build",
        "zzsrc",
        "--target",
        "kaggle-t4",
        "-i",
        server.index_url(),
        "-o",
        str(tmp_path / "pylock.toml"),
        "--json",
    )
    assert res.exit_code == 0, res.stderr
    return {p["name"]: p["source"] for p in json.loads(res.stdout)["packages"]}


def _requested_bytes(server: IndexServer) -> Iterator[int | None]:
    """Bytes asked for per request of the sdist; None for a whole-file GET."""
    for request in server.requests("zzsrc-1.0.tar.gz"):
        spec = request.headers.get("range")
        if spec is None:
            yield None
            continue
        first, _, last = spec.removeprefix("bytes=").partition("-")
        yield int(last) - int(first) + 1


def test_a_static_pyproject_at_the_front_is_read_without_the_rest(
    simple: Path, tmp_path: Path
) -> None:
    _sdist(simple, [("pyproject.toml", STATIC), ("blob.bin", FILLER), ("PKG-INFO", b"x")])
    with IndexServer({"simple": simple}) as server:
        assert _lock(server, tmp_path) == {"zzsrc": "build", "zzdep": "vendor"}
        asked = list(_requested_bytes(server))
    assert asked and None not in asked, asked  # ranges only, never the whole file
    assert sum(n or 0 for n in asked) <= 4_000_000, asked


def test_a_server_without_ranges_gets_one_whole_download(simple: Path, tmp_path: Path) -> None:
    _sdist(simple, [("pyproject.toml", STATIC), ("blob.bin", FILLER)])
    with IndexServer({"simple": simple}, honor_ranges=False) as server:
        assert _lock(server, tmp_path) == {"zzsrc": "build", "zzdep": "vendor"}
        assert None in list(_requested_bytes(server))


def test_metadata_far_into_the_file_falls_back_to_a_whole_download(
    simple: Path, tmp_path: Path
) -> None:
    # Dynamic pyproject first, the trustworthy PKG-INFO behind 24 MB: past the
    # range budget, so the file is downloaded (and cached for the build).
    _sdist(simple, [("pyproject.toml", DYNAMIC), ("blob.bin", FILLER), ("PKG-INFO", PKG_INFO_22)])
    with IndexServer({"simple": simple}) as server:
        assert _lock(server, tmp_path) == {"zzsrc": "build", "zzdep": "vendor"}
        asked = list(_requested_bytes(server))
    assert asked[-1] is None, asked
