"""Static dependency metadata of an sdist, without running any build code.

Two sources are trusted, in this order:

1. ``PKG-INFO`` with Metadata-Version >= 2.2 whose ``Dynamic`` fields name none
   of Requires-Dist, Requires-Python and Provides-Extra (PEP 643: every field
   not listed there is exactly what a built wheel will say).
2. ``pyproject.toml``'s ``[project]`` table when neither ``dependencies`` nor
   ``optional-dependencies`` (nor ``requires-python``) is in
   ``project.dynamic`` (PEP 621 binds build backends to those values). This
   covers sdists built by older tools that still write PKG-INFO 2.1.

Otherwise :func:`sdist_metadata` returns None: only a build backend can tell.
Only the two top-level members are read, straight from the archive into
memory, and reading stops at the first that settles it; nothing is
extracted to disk.
"""

from __future__ import annotations

import logging
import tarfile
import zipfile
from email.parser import BytesHeaderParser
from typing import IO, TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from bundler.errors import NetworkError
from bundler.toml_table import tomllib

if TYPE_CHECKING:
    from collections.abc import Iterator
    from email.message import Message
    from pathlib import Path

log = logging.getLogger(__name__)

#: A PKG-INFO or pyproject.toml bigger than this is not read.
MAX_MEMBER_SIZE = 16 * 1024 * 1024
_DEPENDENCY_FIELDS = frozenset({"requires-dist", "requires-python", "provides-extra"})
_WANTED = ("PKG-INFO", "pyproject.toml")


def sdist_metadata(path: Path, filename: str | None = None) -> bytes | None:
    """Core metadata for the sdist at ``path``, or None when it is dynamic.

    The result is the sdist's own PKG-INFO when that is trustworthy, else
    core metadata written from ``pyproject.toml`` (Metadata-Version 2.1 with
    Name, Version, Requires-Python, Provides-Extra and Requires-Dist, extras
    as ``extra == "name"`` markers). ``filename`` (default: the path's name)
    supplies the name and version when PKG-INFO is missing or not read.

    The archive is read only as far as the first member that settles the
    answer: a static PKG-INFO, or a static ``pyproject.toml`` (build tools
    put PKG-INFO anywhere; llama-cpp-python's is the last of 3,884 members,
    219 MB into its tar stream, and its ``pyproject.toml`` the 211th).
    """
    filename = filename or path.name
    return _first_settled(_members(path, filename), filename)


def sdist_metadata_from_stream(stream: IO[bytes], filename: str) -> bytes | None:
    """:func:`sdist_metadata` of a ``.tar.gz`` read front to back from ``stream``.

    Only as many bytes are read as it takes to settle the answer, so a
    stream of HTTP range reads fetches a small part of a big sdist.
    """
    return _first_settled(_tar_members(stream, filename, mode="r|*"), filename)


def _first_settled(members: Iterator[tuple[str, bytes]], filename: str) -> bytes | None:
    found: dict[str, bytes] = {}
    for member, data in members:
        found[member] = data
        settled = _settle(found, filename)
        if settled is not None:
            return settled
        if len(found) == len(_WANTED):
            break
    return None


def _settle(found: dict[str, bytes], filename: str) -> bytes | None:
    """The metadata, if the members read so far are enough to trust one."""
    pkg_info = found.get("PKG-INFO")
    headers = BytesHeaderParser().parsebytes(pkg_info) if pkg_info is not None else None
    if pkg_info is not None and headers is not None and _pkg_info_is_static(headers):
        return pkg_info
    pyproject = found.get("pyproject.toml")
    if pyproject is None:
        return None
    if headers is not None and headers.get("Name") and headers.get("Version"):
        name, version = str(headers["Name"]), str(headers["Version"])
    else:
        try:
            project, parsed = parse_sdist_filename(filename)
        except (InvalidSdistFilename, InvalidVersion):
            log.debug("%s: no PKG-INFO and no name or version in the file name", filename)
            return None
        name, version = project, str(parsed)
    return _metadata_from_pyproject(pyproject, name, version, filename)


def _members(path: Path, filename: str) -> Iterator[tuple[str, bytes]]:
    """The wanted files directly under the archive's top-level directory, in archive order."""
    seen: set[str] = set()
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    wanted = _wanted_name(info.filename)
                    if wanted and not info.is_dir() and wanted not in seen:
                        _check_size(info.file_size, filename, wanted)
                        seen.add(wanted)
                        yield wanted, archive.read(info)
        else:
            with path.open("rb") as handle:
                yield from _tar_members(handle, filename, mode="r:*")
    except (zipfile.BadZipFile, OSError) as exc:
        raise NetworkError(f"{filename} is not a readable sdist: {exc}") from exc


def _tar_members(stream: IO[bytes], filename: str, *, mode: str) -> Iterator[tuple[str, bytes]]:
    seen: set[str] = set()
    try:
        with tarfile.open(fileobj=stream, mode=mode) as archive:  # type: ignore[call-overload]
            for member in archive:
                wanted = _wanted_name(member.name)
                # Regular files only: a symlink or device entry is never followed.
                if wanted and member.isfile() and wanted not in seen:
                    _check_size(member.size, filename, wanted)
                    handle = archive.extractfile(member)
                    if handle is not None:
                        seen.add(wanted)
                        yield wanted, handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise NetworkError(f"{filename} is not a readable sdist: {exc}") from exc


def _wanted_name(member_name: str) -> str | None:
    parts = member_name.removeprefix("./").split("/")
    if len(parts) == 2 and parts[1] in _WANTED and parts[0] not in ("", "..", "."):
        return parts[1]
    return None


def _check_size(size: int, filename: str, member: str) -> None:
    if size > MAX_MEMBER_SIZE:
        raise NetworkError(f"{filename}: {member} is {size} bytes; refusing to read it.")


def _pkg_info_is_static(headers: Message) -> bool:
    try:
        version = Version(str(headers.get("Metadata-Version", "0")))
    except InvalidVersion:
        return False
    if version < Version("2.2"):
        return False
    dynamic = {str(value).strip().lower() for value in headers.get_all("Dynamic") or ()}
    return not dynamic & _DEPENDENCY_FIELDS


def _metadata_from_pyproject(
    pyproject: bytes, name: str, version: str, filename: str
) -> bytes | None:
    try:
        project = tomllib.loads(pyproject.decode("utf-8")).get("project")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        log.debug("%s: unreadable pyproject.toml: %s", filename, exc)
        return None
    if not isinstance(project, dict):
        return None
    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list) or {
        "dependencies",
        "optional-dependencies",
        "requires-python",
    } & set(dynamic):
        return None
    try:
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        requires_python = project.get("requires-python")
        if requires_python is not None:
            lines.append(f"Requires-Python: {_string(requires_python)}")
        lines += [f"Requires-Dist: {_requirement(item)}" for item in _list(project, "dependencies")]
        optional = project.get("optional-dependencies", {})
        if not isinstance(optional, dict):
            raise TypeError("optional-dependencies must be a table")
        for extra in optional:
            extra_name = canonicalize_name(_string(extra))
            lines.append(f"Provides-Extra: {extra_name}")
            lines += [
                f"Requires-Dist: {_requirement(item, extra_name)}"
                for item in _list(optional, extra)
            ]
    except (TypeError, InvalidRequirement) as exc:
        # A build backend would reject this project too; let it say why.
        log.debug("%s: invalid [project] table: %s", filename, exc)
        return None
    return ("\n".join(lines) + "\n").encode()


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _list(table: dict[str, Any], key: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"{key} must be an array")
    return [_string(item) for item in value]


def _requirement(text: str, extra: str | None = None) -> str:
    """``text`` normalised; with ``extra``, guarded by ``extra == "<extra>"``."""
    requirement = Requirement(text)
    if extra is None:
        return str(requirement)
    marker = f'extra == "{extra}"'
    if requirement.marker is not None:
        marker = f"({requirement.marker}) and {marker}"
    requirement.marker = None
    return f"{requirement}; {marker}"
