"""Static metadata of sdists: PKG-INFO 2.2+, else a static pyproject [project]."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from bundler.errors import NetworkError
from bundler.index.sdist_metadata import sdist_metadata
from tests.helpers.wheels import build_sdist

# The shape of llama-cpp-python's sdist: PKG-INFO 2.1 (not trustworthy), but a
# pyproject.toml whose dependencies are static and only the version is dynamic.
LLAMA_PYPROJECT = """
[build-system]
requires = ["scikit-build-core[pyproject]>=0.9.2"]
build-backend = "scikit_build_core.build"

[project]
name = "llama_cpp_python"
dynamic = ["version"]
requires-python = ">=3.8"
dependencies = [
    "typing-extensions>=4.5.0",
    "numpy>=1.20.0",
]

[project.optional-dependencies]
Server = ["uvicorn>=0.22.0", "PyYAML>=5.1; python_version < '3.13'"]
all = ["llama_cpp_python[server]"]
"""


def test_pkg_info_2_2_is_used_verbatim(tmp_path: Path) -> None:
    path = build_sdist(tmp_path, "demo", "1.0", metadata_version="2.2", requires=["six"])
    metadata = sdist_metadata(path)
    assert metadata is not None
    assert metadata.startswith(b"Metadata-Version: 2.2\nName: demo\nVersion: 1.0\n")
    assert b"Requires-Dist: six\n" in metadata


def test_pkg_info_2_2_with_other_dynamic_fields_is_still_static(tmp_path: Path) -> None:
    path = build_sdist(
        tmp_path, "demo", "1.0", metadata_version="2.4", requires=["six"], dynamic=["Summary"]
    )
    assert sdist_metadata(path) is not None


@pytest.mark.parametrize("field", ["Requires-Dist", "requires-python", "Provides-Extra"])
def test_dynamic_dependency_fields_need_a_build(tmp_path: Path, field: str) -> None:
    path = build_sdist(tmp_path, "demo", "1.0", metadata_version="2.2", dynamic=[field])
    assert sdist_metadata(path) is None


def test_pkg_info_2_1_with_static_pyproject(tmp_path: Path) -> None:
    path = build_sdist(
        tmp_path, "llama_cpp_python", "0.3.9", requires=["ignored"], pyproject=LLAMA_PYPROJECT
    )
    metadata = sdist_metadata(path)
    assert metadata is not None
    assert metadata.decode().splitlines() == [
        "Metadata-Version: 2.1",
        "Name: llama_cpp_python",
        "Version: 0.3.9",
        "Requires-Python: >=3.8",
        "Requires-Dist: typing-extensions>=4.5.0",
        "Requires-Dist: numpy>=1.20.0",
        "Provides-Extra: server",
        'Requires-Dist: uvicorn>=0.22.0; extra == "server"',
        'Requires-Dist: PyYAML>=5.1; (python_version < "3.13") and extra == "server"',
        "Provides-Extra: all",
        'Requires-Dist: llama_cpp_python[server]; extra == "all"',
    ]


def test_pyproject_with_dynamic_dependencies_needs_a_build(tmp_path: Path) -> None:
    pyproject = '[project]\nname = "demo"\nversion = "1.0"\ndynamic = ["dependencies"]\n'
    assert sdist_metadata(build_sdist(tmp_path, "demo", "1.0", pyproject=pyproject)) is None


@pytest.mark.parametrize(
    "pyproject",
    [
        None,  # a setup.py-only project
        "[build-system]\nrequires = ['setuptools']\n",  # no [project] table
        '[project]\nname = "demo"\ndependencies = ["not a valid requirement!"]\n',
        '[project]\nname = "demo"\ndependencies = "six"\n',
        "[project\nbroken toml",
    ],
)
def test_no_trustworthy_source_means_none(tmp_path: Path, pyproject: str | None) -> None:
    assert sdist_metadata(build_sdist(tmp_path, "demo", "1.0", pyproject=pyproject)) is None


def test_nested_pkg_info_is_ignored(tmp_path: Path) -> None:
    nested = b"Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nRequires-Dist: six\n"
    path = build_sdist(tmp_path, "demo", "1.0", extra_files={"src/demo.egg-info/PKG-INFO": nested})
    assert sdist_metadata(path) is None


def test_zip_sdist(tmp_path: Path) -> None:
    path = build_sdist(tmp_path, "demo", "1.0", metadata_version="2.3", fmt="zip")
    assert sdist_metadata(path) is not None


def test_name_and_version_come_from_the_file_name_without_pkg_info(tmp_path: Path) -> None:
    path = tmp_path / "demo_pkg-2.0.tar.gz"
    pyproject = b'[project]\nname = "demo-pkg"\ndependencies = ["six"]\n'
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("demo_pkg-2.0/pyproject.toml")
        info.size = len(pyproject)
        archive.addfile(info, io.BytesIO(pyproject))
    assert sdist_metadata(path) == (
        b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 2.0\nRequires-Dist: six\n"
    )


def test_symlinked_pkg_info_is_not_followed(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        link = tarfile.TarInfo("demo-1.0/PKG-INFO")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    assert sdist_metadata(path) is None


def test_broken_archive_is_a_network_error(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0.tar.gz"
    path.write_bytes(b"\x1f\x8b truncated gzip")
    with pytest.raises(NetworkError, match="not a readable sdist"):
        sdist_metadata(path)


def _tar(path: Path, members: list[tuple[str, bytes]], *, tail: bytes = b"") -> Path:
    """A tar.gz of ``members`` in this order; ``tail`` replaces the end of the stream."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    if tail:
        raw = raw[: len(raw) // 2] + tail  # everything after the middle is garbage
    import gzip

    path.write_bytes(gzip.compress(raw))
    return path


def test_reading_stops_at_a_static_pyproject(tmp_path: Path) -> None:
    # The llama-cpp-python shape: pyproject.toml early, PKG-INFO 2.1 last. The
    # stream is broken after the first half: reading on would fail.
    filler = bytes(range(256)) * 4096
    path = _tar(
        tmp_path / "llama_cpp_python-0.3.9.tar.gz",
        [
            ("llama_cpp_python-0.3.9/pyproject.toml", LLAMA_PYPROJECT.encode()),
            ("llama_cpp_python-0.3.9/vendor/blob.bin", filler),
            ("llama_cpp_python-0.3.9/PKG-INFO", b"Metadata-Version: 2.1\nName: x\n"),
        ],
        tail=b"\x00garbage" * 100,
    )
    metadata = sdist_metadata(path)
    assert metadata is not None
    assert b"Requires-Dist: numpy>=1.20.0\n" in metadata
    assert b"Version: 0.3.9\n" in metadata


def test_a_dynamic_pyproject_first_reads_on_to_pkg_info(tmp_path: Path) -> None:
    pyproject = b'[project]\nname = "demo"\nversion = "1.0"\ndynamic = ["dependencies"]\n'
    pkg_info = b"Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nRequires-Dist: six\n"
    path = _tar(
        tmp_path / "demo-1.0.tar.gz",
        [("demo-1.0/pyproject.toml", pyproject), ("demo-1.0/PKG-INFO", pkg_info)],
    )
    assert sdist_metadata(path) == pkg_info
