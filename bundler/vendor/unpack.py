"""Install one wheel into an empty folder with pypa/installer, verified in one pass.

Names are checked before anything is written (RECORD entries, one
``.dist-info``, no ``..``, absolute, backslash or symlink members, nothing
written outside its scheme folder); every member is then decompressed once,
hashed while installer writes it and compared with RECORD. The folder gets
kbundle's lib layout (see :mod:`bundler.vendor.install`). Callers discard the folder
on any error (:mod:`bundler.vendor.unpacked`).
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import io
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import installer
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import RecordEntry
from installer.scripts import Script
from installer.sources import WheelFile
from installer.utils import Scheme

from bundler.vendor.unpacked import SHARED_MIN_SIZE, EntryFile
from bundler.vendor.wheel_errors import BadWheelError, Collision, FileCollisionError, WheelProblem

if TYPE_CHECKING:
    from installer.scripts import ScriptSection

__all__ = ["INSTALLER_NAME", "SCRIPT_SHEBANG", "schemes", "unpack_wheel"]

INSTALLER_NAME = "kbundle"
SCRIPT_SHEBANG = "/usr/bin/env python3"

# Written right after the shebang of generated console scripts: lib/ is the
# folder above bin/, and kbundle_boot (when vendored) activates it fully.
_SCRIPT_PRELUDE = b"""\
import os
import sys
_lib = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, _lib)
if os.path.isfile(os.path.join(_lib, "kbundle_boot.py")):
    import kbundle_boot  # noqa: F401
"""


def schemes(lib: Path, name: str) -> dict[str, str]:
    """Where each installer scheme goes in a lib (see :mod:`bundler.vendor.install`)."""
    return {
        "purelib": str(lib),
        "platlib": str(lib),
        "scripts": str(lib / "bin"),
        "headers": str(lib / "include" / name),
        "data": str(lib / "data" / name),
    }


def unpack_wheel(wheel: Path, tree: Path, filename: str, name: str) -> tuple[EntryFile, ...]:
    """Install ``wheel`` into ``tree`` (created; must not exist), verifying it on the way.

    ``name`` is the distribution's name (for the headers and data folders).
    Raises :class:`BadWheelError` with every problem found, or
    :class:`FileCollisionError` when the wheel writes one path twice; the
    caller then discards ``tree``.
    """
    problems: list[WheelProblem] = []
    tree.mkdir(parents=True)
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadWheelError(
            [WheelProblem(filename, f"not a valid wheel (zip) file: {exc}")]
        ) from exc
    with archive:
        problems.extend(WheelProblem(filename, why, entry) for entry, why in _unsafe(archive))
        if problems:
            # Paths like "/x" make installer's own scheme lookup fail; stop here.
            raise BadWheelError(problems)
        source = _CheckedWheel(archive, filename, problems)
        try:
            _ = source.dist_info_dir  # exactly one .dist-info, matching the file name
            source.validate_record(validate_contents=False)  # contents: while writing
        except WheelFile.validation_error as exc:
            issues = getattr(exc, "issues", None) or [str(exc)]
            raise BadWheelError(
                [WheelProblem(filename, f"RECORD check failed: {issue}") for issue in issues]
            ) from exc
        except (InstallerError, ValueError, KeyError) as exc:
            raise BadWheelError([WheelProblem(filename, f"not a valid wheel: {exc}")]) from exc
        destination = _EntryDestination(
            scheme_dict=schemes(tree, name),
            interpreter=SCRIPT_SHEBANG,
            script_kind="posix",
            # A second writer of one path is a packaging error, never "last one wins".
            overwrite_existing=False,
            root=tree,
            wheel=filename,
            problems=problems,
        )
        try:
            installer.install(source, destination, {"INSTALLER": f"{INSTALLER_NAME}\n".encode()})
        except FileExistsError as exc:
            relative = _relative(tree, exc.filename or str(exc).rpartition(": ")[2])
            detail = "twice in one wheel (e.g. it ships its own INSTALLER)"
            raise FileCollisionError([Collision(relative, filename, filename, detail)]) from exc
        except (NotADirectoryError, IsADirectoryError) as exc:
            relative = _relative(tree, exc.filename or str(tree))
            detail = "a file and a directory of one wheel"
            raise FileCollisionError([Collision(relative, filename, filename, detail)]) from exc
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            problems.append(WheelProblem(filename, f"damaged archive: {exc}"))
        except (InstallerError, ValueError, KeyError, AssertionError, configparser.Error) as exc:
            problems.append(WheelProblem(filename, f"not a valid wheel: {exc!r}"))
    if problems:
        raise BadWheelError(problems)
    return _finish(tree, destination.written)


def _relative(tree: Path, path: str) -> str:
    return Path(os.path.relpath(path, tree)).as_posix()


def _finish(tree: Path, written: list[tuple[str, RecordEntry, bool]]) -> tuple[EntryFile, ...]:
    """Share one inode among big identical files, then note every file's stat."""
    first: dict[tuple[str, bool], str] = {}
    prefix = f"{tree}{os.sep}"
    for path, record, executable in written:
        if (record.size or 0) < SHARED_MIN_SIZE:
            continue
        original = first.setdefault((str(record.hash_), executable), path)
        if original != path:
            # Wheels hold no symlinks, so CMake-built packages ship each
            # shared library several times (libx.so, libx.so.0, ...).
            temporary = f"{prefix}{path}.kbundle-link"
            os.link(prefix + original, temporary)
            Path(temporary).replace(prefix + path)
    files = []
    for path, record, executable in written:
        st = Path(prefix + path).stat()
        files.append(EntryFile(path, st.st_size, str(record.hash_), executable, st.st_mtime_ns))
    return tuple(files)


def _unsafe(archive: zipfile.ZipFile) -> Iterator[tuple[str, str]]:
    """Archive members that must never be extracted, with the reason."""
    seen: set[str] = set()
    for info in archive.infolist():
        member = info.filename
        parts = member.split("/")
        if member.startswith("/") or (len(member) > 1 and member[1] == ":"):
            yield member, "absolute path in archive"
        elif ".." in parts:
            yield member, "'..' in archive path"
        elif "\\" in member:
            # A backslash is a separator on Windows: "a\..\x" would escape there.
            yield member, "backslash in archive path"
        elif stat.S_ISLNK(info.external_attr >> 16):
            # Wheels have no symlinks; installer would write the link text as a
            # regular file, and other unpackers would follow it.
            yield member, "symbolic link in archive"
        elif member in seen:
            yield member, "archive member appears twice"
        seen.add(member)


class _CheckedStream:
    """A member's stream that hashes what is read, to compare with RECORD.

    installer reads each stream to its end once; ``fix_shebang`` first peeks
    at the start and seeks back to 0, which restarts the hash. Bytes skipped
    any other way are read by :meth:`matches` itself.
    """

    def __init__(self, raw: BinaryIO, expected: RecordEntry) -> None:
        assert expected.hash_ is not None
        self._raw = raw
        self._expected = expected
        self._hash = hashlib.new(expected.hash_.name)
        self._position = 0
        self._hashed = 0  # bytes [0, _hashed) went into _hash

    def read(self, size: int = -1) -> bytes:
        return self._consume(self._raw.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._consume(self._raw.readline(size))

    def _consume(self, data: bytes) -> bytes:
        if self._position == self._hashed:
            self._hash.update(data)
            self._hashed += len(data)
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._position = self._raw.seek(offset, whence)
        if self._position == 0:
            self._hash = hashlib.new(self._hash.name)
            self._hashed = 0
        return self._position

    def tell(self) -> int:
        return self._position

    def readable(self) -> bool:
        return True

    def matches(self) -> bool:
        """Whether the whole member has RECORD's hash and size."""
        if self._position != self._hashed:
            self._raw.seek(self._hashed)
        while chunk := self._raw.read(1 << 20):
            self._hash.update(chunk)
            self._hashed += len(chunk)
        assert self._expected.hash_ is not None
        value = base64.urlsafe_b64encode(self._hash.digest()).decode("ascii").rstrip("=")
        size_ok = self._expected.size is None or self._expected.size == self._hashed
        return size_ok and value == self._expected.hash_.value


class _CheckedWheel(WheelFile):
    """installer's wheel source, comparing every member with RECORD as it is read."""

    def __init__(self, archive: zipfile.ZipFile, filename: str, problems: list[WheelProblem]):
        super().__init__(archive)
        self._filename = filename
        self._problems = problems

    def get_contents(self) -> Iterator[tuple[tuple[str, str, str], BinaryIO, bool]]:
        record_path = f"{self.dist_info_dir}/RECORD"
        for elements, stream, is_executable in super().get_contents():
            expected = RecordEntry.from_elements(*elements)
            if expected.path == record_path or expected.hash_ is None:
                # RECORD has no hash of itself; a missing one was reported already.
                yield elements, stream, is_executable
                continue
            try:
                checked = _CheckedStream(stream, expected)
            except ValueError:  # hashlib knows no such algorithm
                reason = f"RECORD check failed: unknown hash {expected.hash_.name!r}"
                self._problems.append(WheelProblem(self._filename, reason, expected.path))
                continue
            yield elements, cast("BinaryIO", checked), is_executable
            # installer has written the file by now (the member is still open).
            if not checked.matches():
                reason = "RECORD check failed: hash / size didn't match RECORD"
                self._problems.append(WheelProblem(self._filename, reason, expected.path))


@dataclass
class _EntryDestination(SchemeDictionaryDestination):
    """installer's filesystem destination, confined to ``root``, noting what it wrote.

    Console scripts get a ``/usr/bin/env python3`` shebang. installer would
    wrap an interpreter string containing a space in a ``/bin/sh`` trampoline
    that quotes it as ONE command name (``'/usr/bin/env python3'``), which
    does not run; so the shebang line is replaced here, and the prelude puts
    ``lib`` on ``sys.path``. ``#!python`` scripts shipped in ``.data/scripts``
    go through installer's ``fix_shebang``, which writes the string verbatim.
    """

    root: Path = field(default_factory=Path)
    wheel: str = ""
    problems: list[WheelProblem] = field(default_factory=list)
    #: (path relative to root, installer's record of it, executable)
    written: list[tuple[str, RecordEntry, bool]] = field(default_factory=list)

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        target = _inside(self.root, self.scheme_dict[scheme], path)
        if target is None:
            reason = f"would be written outside lib ({scheme} scheme)"
            self.problems.append(WheelProblem(self.wheel, reason, path))
            return RecordEntry(path, None, None)
        entry = super().write_to_fs(scheme, path, stream, is_executable)
        self.written.append((target, entry, is_executable))
        return entry

    def write_script(
        self, name: str, module: str, attr: str, section: ScriptSection
    ) -> RecordEntry:
        script_name, data = Script(name, module, attr, section).generate(
            "/usr/bin/python3", "posix"
        )
        _shebang, _, body = data.partition(b"\n")
        data = f"#!{SCRIPT_SHEBANG}\n".encode() + _SCRIPT_PRELUDE + body
        with io.BytesIO(data) as stream:
            return self.write_to_fs(Scheme("scripts"), script_name, stream, is_executable=True)


def _inside(root: Path, scheme_dir: str, path: str) -> str | None:
    """``path`` relative to ``root`` when it stays inside ``scheme_dir``, else None.

    The entry's folder is new and holds only what installer wrote (regular
    files, no symlinks), so normalising the path is enough here.
    """
    if Path(path).is_absolute():
        return None
    base = os.path.normpath(scheme_dir)
    target = os.path.normpath(Path(base, path))
    if os.path.commonpath([base, target]) != base:
        return None
    return Path(os.path.relpath(target, root)).as_posix()
