"""Build real wheels and sdists in a test's directory.

The files are what build tools write: a wheel is a zip with
``<name>-<version>.dist-info/{METADATA,WHEEL,RECORD}`` (RECORD with sha256
lines), an sdist a ``.tar.gz`` (or ``.zip``) with ``<name>-<version>/PKG-INFO``
and optionally ``pyproject.toml``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path


def core_metadata(
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    requires_python: str | None = None,
    metadata_version: str = "2.1",
    extras: Mapping[str, Iterable[str]] | None = None,
    dynamic: Iterable[str] = (),
) -> bytes:
    """METADATA/PKG-INFO text: extras become Provides-Extra plus marked Requires-Dist."""
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    lines += [f"Dynamic: {field}" for field in dynamic]
    if requires_python is not None:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    for extra, extra_requires in (extras or {}).items():
        lines.append(f"Provides-Extra: {extra}")
        for requirement in extra_requires:
            separator = " and " if ";" in requirement else "; "
            lines.append(f'Requires-Dist: {requirement}{separator}extra == "{extra}"')
    return ("\n".join(lines) + "\n\nA test package.\n").encode()


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    """The file name ``build_wheel`` uses."""
    return f"{canonicalize_name(name).replace('-', '_')}-{version}-{tag}.whl"


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    requires_python: str | None = None,
    tag: str = "py3-none-any",
    files: Mapping[str, bytes] | None = None,
    metadata_version: str = "2.1",
    extras: Mapping[str, Iterable[str]] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
    comment: bytes = b"",
) -> Path:
    """Write a wheel into ``directory`` and return its path.

    ``files`` maps archive paths to contents (default: one small module);
    the dist-info directory comes last, as wheel builders write it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem = canonicalize_name(name).replace("-", "_")
    dist_info = f"{stem}-{version}.dist-info"
    contents = dict(files if files is not None else {f"{stem}/__init__.py": b"VALUE = 1\n"})
    contents[f"{dist_info}/METADATA"] = core_metadata(
        name,
        version,
        requires=requires,
        requires_python=requires_python,
        metadata_version=metadata_version,
        extras=extras,
    )
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode()
    )
    record = [_record_line(path, data) for path, data in contents.items()]
    record.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / wheel_filename(name, version, tag)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
        archive.comment = comment
    return path


def build_sdist(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    requires_python: str | None = None,
    metadata_version: str = "2.1",
    dynamic: Iterable[str] = (),
    pyproject: str | None = None,
    fmt: str = "tar.gz",
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write an sdist (``fmt`` "tar.gz" or "zip") into ``directory``.

    PKG-INFO carries ``requires`` (so a 2.1 PKG-INFO still lists them, as
    setuptools does, while kbundle must not trust it); ``pyproject`` is the
    verbatim text of ``pyproject.toml`` when given.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    members = {
        f"{stem}/PKG-INFO": core_metadata(
            name,
            version,
            requires=requires,
            requires_python=requires_python,
            metadata_version=metadata_version,
            dynamic=dynamic,
        ),
        f"{stem}/setup.py": b"raise SystemExit('tests never run build code')\n",
    }
    if pyproject is not None:
        members[f"{stem}/pyproject.toml"] = pyproject.encode()
    members.update({f"{stem}/{path}": data for path, data in (extra_files or {}).items()})
    path = directory / f"{stem}.{fmt}"
    if fmt == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
        return path
    with tarfile.open(path, "w:gz") as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def build_app_wheels(simple: Path) -> None:
    """The small app the vendor tests ship: ``app 1.0`` needs ``helper`` (in the
    lib) and ``numpy>=1.20`` (a stand-in numpy the image may provide instead)."""
    build_wheel(
        simple,
        "app",
        "1.0",
        requires=["numpy>=1.20", "helper"],
        files={"app/__init__.py": b"import helper\nVALUE = helper.X + 1\n"},
    )
    build_wheel(simple, "helper", "2.0", files={"helper.py": b"X = 41\n"})
    build_wheel(
        simple, "numpy", "1.26.4", files={"numpy.py": b"SOURCE = 'lib'\nVERSION = '1.26.4'\n"}
    )
