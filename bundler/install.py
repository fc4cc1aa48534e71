"""Install wheels into a staging ``lib/`` folder with pypa/installer.

``lib/`` is not an interpreter prefix: it is one folder that ends up first on
``sys.path`` of the target. So purelib and platlib both map to ``lib`` and the
other schemes get folders inside it:

* ``scripts`` → ``lib/bin``: console-script wrappers start with
  ``#!/usr/bin/env python3`` (the target's interpreter path is unknown here)
  and put ``lib`` on ``sys.path`` themselves. Scripts are rarely useful in a
  submission, but silently dropping files a wheel declares would surprise.
* ``headers`` → ``lib/include/<name>`` and ``data`` → ``lib/data/<name>``:
  data files are NOT spread into an interpreter prefix (there is none); a
  package that looks for them under ``sys.prefix`` will not find them.

Every wheel is checked before any file is written: it must be a zip with one
matching ``.dist-info``, its RECORD must match its contents (hashes and
sizes), no entry may land outside its folder in ``lib`` (``../``, absolute
paths, symlink entries, symlinks already in ``lib``), and no two wheels (or a
wheel and a file already in ``lib``) may write the same path. All problems of
all wheels are collected and reported in one error. No bytecode is compiled:
the target's Python version may differ from the one running kbundle.
"""

from __future__ import annotations

import configparser
import hashlib
import io
import os
import posixpath
import stat
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import installer
from installer.destinations import SchemeDictionaryDestination, WheelDestination
from installer.exceptions import InstallerError
from installer.records import RecordEntry
from installer.scripts import Script
from installer.sources import WheelFile
from installer.utils import Scheme
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from bundler.errors import KbundleError

if TYPE_CHECKING:
    from installer.scripts import ScriptSection

__all__ = [
    "BadWheelError",
    "Collision",
    "FileCollisionError",
    "InstalledWheel",
    "WheelProblem",
    "install_wheels",
]

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


@dataclass(frozen=True)
class InstalledWheel:
    """What one wheel put into ``lib``.

    ``files`` are the paths written, relative to ``lib`` with ``/`` separators
    (RECORD, INSTALLER and generated scripts included); ``bytes`` is their total size.
    """

    name: str
    version: str
    wheel: str
    files: tuple[str, ...]
    bytes: int


@dataclass(frozen=True)
class WheelProblem:
    """One reason a wheel cannot be installed; ``entry`` is the archive member, if any."""

    wheel: str
    reason: str
    entry: str | None = None

    def __str__(self) -> str:
        where = f"{self.wheel}: {self.entry!r}" if self.entry is not None else self.wheel
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Collision:
    """``path`` (relative to lib) would be written by both ``first`` and ``second``.

    ``first`` is ``None`` when the file was already in ``lib`` before this install.
    """

    path: str
    first: str | None
    second: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        if self.first is None:
            return f"{self.path}: written by {self.second} but already present in lib{detail}"
        return f"{self.path}: written by both {self.first} and {self.second}{detail}"


class BadWheelError(KbundleError):
    """One or more wheels are broken or unsafe; ``problems`` lists every finding."""

    def __init__(self, problems: Sequence[WheelProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) found in wheels:\n{lines}",
            hint="A wheel that fails its own RECORD was damaged or tampered with: delete it "
            "from the cache to fetch it again. An unsafe path is a broken or malicious wheel.",
        )


class FileCollisionError(KbundleError):
    """Two wheels (or a wheel and an existing file) would write the same path."""

    def __init__(self, collisions: Sequence[Collision]) -> None:
        self.collisions = tuple(collisions)
        lines = "\n".join(f"  {collision}" for collision in self.collisions)
        super().__init__(
            f"{len(self.collisions)} file(s) would be installed twice into lib:\n{lines}",
            hint="Two distributions ship the same module (often a renamed fork or an old "
            "package split); keep only one of them in the lock.",
        )


def install_wheels(wheels: Sequence[Path], lib: Path) -> list[InstalledWheel]:
    """Install ``wheels`` into ``lib`` (created if missing), in the given order.

    All wheels are validated first (see the module docstring) and nothing is
    written unless every one passes; raises :class:`BadWheelError` or
    :class:`FileCollisionError` otherwise. ``lib`` is meant to be a fresh
    staging folder (see :mod:`bundler.libswap`): a failure half-way through
    writing (disk full) leaves it partially filled.
    """
    lib.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        plans: list[_Plan] = []
        problems: list[WheelProblem] = []
        seen_names: dict[str, str] = {}
        for wheel in wheels:
            plan = _open_and_check(Path(wheel), lib, stack, problems)
            if plan is None:
                continue
            if plan.name in seen_names:
                problems.append(
                    WheelProblem(
                        plan.filename,
                        f"distribution {plan.name} is also installed from {seen_names[plan.name]}",
                    )
                )
                continue
            seen_names[plan.name] = plan.filename
            plans.append(plan)
        if problems:
            raise BadWheelError(problems)
        owners = _check_collisions(plans, lib)
        return [_install_one(plan, lib, owners) for plan in plans]


def _schemes(lib: Path, name: str) -> dict[str, str]:
    return {
        "purelib": str(lib),
        "platlib": str(lib),
        "scripts": str(lib / "bin"),
        "headers": str(lib / "include" / name),
        "data": str(lib / "data" / name),
    }


@dataclass
class _Plan:
    """A wheel that passed validation, still open, with every path it will write."""

    path: Path
    filename: str
    name: str
    version: str
    source: WheelFile
    targets: list[str] = field(default_factory=list)  # relative to lib, "/"-separated


def _open_and_check(
    wheel: Path, lib: Path, stack: ExitStack, problems: list[WheelProblem]
) -> _Plan | None:
    """Open ``wheel`` and validate it fully; append findings to ``problems``."""
    filename = wheel.name
    try:
        name, version, _build, _tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        problems.append(WheelProblem(filename, f"not a wheel file name ({exc})"))
        return None
    try:
        archive = stack.enter_context(zipfile.ZipFile(wheel))
    except (zipfile.BadZipFile, OSError) as exc:
        problems.append(WheelProblem(filename, f"not a valid wheel (zip) file: {exc}"))
        return None

    found = list(_unsafe_entries(archive))
    problems.extend(WheelProblem(filename, reason, entry) for entry, reason in found)
    if found:
        # Paths like "/x" make installer's own scheme lookup fail; stop here.
        return None

    try:
        source = WheelFile(archive)
        _ = source.dist_info_dir  # exactly one .dist-info, matching the file name
        source.validate_record()
    except WheelFile.validation_error as exc:
        issues = getattr(exc, "issues", None) or [str(exc)]
        problems.extend(WheelProblem(filename, f"RECORD check failed: {issue}") for issue in issues)
        return None
    except (InstallerError, ValueError, KeyError) as exc:
        problems.append(WheelProblem(filename, f"not a valid wheel: {exc}"))
        return None

    plan = _Plan(wheel, filename, str(name), str(version), source)
    # A dry run of installer.install with a destination that writes nothing:
    # the paths come from the library's own scheme logic (.data/ folders,
    # entry points, RECORD, INSTALLER), not from a copy of it.
    planner = _Planner(_schemes(lib, plan.name))
    try:
        installer.install(source, planner, {"INSTALLER": f"{INSTALLER_NAME}\n".encode()})
    except (InstallerError, ValueError, KeyError, AssertionError, configparser.Error) as exc:
        problems.append(WheelProblem(filename, f"not a valid wheel: {exc!r}"))
        return None

    lib_real = os.path.realpath(lib)
    escaping = []
    for scheme, path in planner.planned:
        target = _safe_target(lib, lib_real, planner.scheme_dict[scheme], path)
        if target is None:
            escaping.append(
                WheelProblem(filename, f"would be written outside lib ({scheme} scheme)", path)
            )
        else:
            plan.targets.append(target)
    problems.extend(escaping)
    return None if escaping else plan


def _unsafe_entries(archive: zipfile.ZipFile) -> Iterator[tuple[str, str]]:
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


def _safe_target(lib: Path, lib_real: str, scheme_dir: str, path: str) -> str | None:
    """``path`` relative to lib when it stays inside ``scheme_dir``, else ``None``.

    Normalising catches ``..`` and absolute paths, ``realpath`` catches a
    symlink already in ``lib`` that points elsewhere (a wheel cannot create
    one: symlink entries are refused and installer writes regular files).
    """
    if Path(path).is_absolute():
        return None
    base = os.path.normpath(scheme_dir)
    target = os.path.normpath(Path(base) / path)
    if os.path.commonpath([base, target]) != base:
        return None
    real = os.path.realpath(target)
    if os.path.commonpath([lib_real, real]) != lib_real:
        return None
    return Path(os.path.relpath(target, lib)).as_posix()


def _check_collisions(plans: Iterable[_Plan], lib: Path) -> dict[str, str]:
    """Map every planned path to its wheel; raise on any path written twice."""
    owners: dict[str, str] = {}
    directories: dict[str, str] = {}
    collisions: list[Collision] = []
    for plan in plans:
        for target in plan.targets:
            if target in owners:
                same = owners[target] == plan.filename
                detail = "twice in one wheel (e.g. it ships its own INSTALLER)" if same else ""
                collisions.append(Collision(target, owners[target], plan.filename, detail))
                continue
            if target in directories:
                detail = "a directory in the first, a file in the second"
                collisions.append(Collision(target, directories[target], plan.filename, detail))
                continue
            if os.path.lexists(lib / target):
                collisions.append(Collision(target, None, plan.filename))
                continue
            parent = posixpath.dirname(target)
            while parent:
                if parent in owners:
                    detail = "a file in the first, a directory in the second"
                    collisions.append(Collision(parent, owners[parent], plan.filename, detail))
                    break
                directories.setdefault(parent, plan.filename)
                parent = posixpath.dirname(parent)
            owners[target] = plan.filename
    if collisions:
        raise FileCollisionError(collisions)
    return owners


def _install_one(plan: _Plan, lib: Path, owners: dict[str, str]) -> InstalledWheel:
    destination = _LibDestination(
        scheme_dict=_schemes(lib, plan.name),
        interpreter=SCRIPT_SHEBANG,
        script_kind="posix",
        # A second writer of one path is a packaging error, never "last one wins".
        overwrite_existing=False,
    )
    try:
        installer.install(plan.source, destination, {"INSTALLER": f"{INSTALLER_NAME}\n".encode()})
    except FileExistsError as exc:
        # Checked up front already; this guards against anything the plan missed.
        path = Path(exc.filename or str(exc).rpartition(": ")[2])
        relative = Path(os.path.relpath(path, lib)).as_posix()
        raise FileCollisionError(
            [Collision(relative, owners.get(relative), plan.filename)]
        ) from exc
    except ValueError as exc:
        raise BadWheelError([WheelProblem(plan.filename, str(exc))]) from exc
    files = tuple(Path(os.path.relpath(path, lib)).as_posix() for path, _ in destination.written)
    size = sum(written for _, written in destination.written)
    return InstalledWheel(plan.name, plan.version, plan.filename, files, size)


class _Planner(WheelDestination):
    """A destination that writes nothing and remembers ``(scheme, path)`` of each file."""

    def __init__(self, scheme_dict: dict[str, str]) -> None:
        self.scheme_dict = scheme_dict
        self.planned: list[tuple[Scheme, str]] = []

    def write_script(
        self, name: str, module: str, attr: str, section: ScriptSection
    ) -> RecordEntry:
        self.planned.append((Scheme("scripts"), name))
        return RecordEntry(name, None, None)

    def write_file(
        self,
        scheme: Scheme,
        path: str | os.PathLike[str],
        stream: BinaryIO,
        is_executable: bool,
    ) -> RecordEntry:
        path_ = os.fspath(path)
        self.planned.append((scheme, path_))
        return RecordEntry(path_, None, None)

    def finalize_installation(
        self,
        scheme: Scheme,
        record_file_path: str,
        records: Iterable[tuple[Scheme, RecordEntry]],
    ) -> None:
        self.planned.append((scheme, record_file_path))


@dataclass
class _LibDestination(SchemeDictionaryDestination):
    """installer's filesystem destination, remembering what it wrote.

    Console scripts get a ``/usr/bin/env python3`` shebang. installer would
    wrap an interpreter string containing a space in a ``/bin/sh`` trampoline
    that quotes it as ONE command name (``'/usr/bin/env python3'``), which
    does not run; so the shebang line is replaced here, and the prelude puts
    ``lib`` on ``sys.path``. ``#!python`` scripts shipped in ``.data/scripts``
    go through installer's ``fix_shebang``, which writes the string verbatim.
    """

    written: list[tuple[Path, int]] = field(default_factory=list)

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        entry = super().write_to_fs(scheme, path, stream, is_executable)
        target = Path(self.scheme_dict[scheme]) / path
        self.written.append((target, entry.size or 0))
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


def link_identical_files(lib: Path, *, min_size: int = 64 * 1024) -> int:
    """Hard-link files of identical content under ``lib``; returns the bytes saved.

    Wheels cannot hold symlinks, so a CMake-built package ships each shared
    library several times (``libllama.so``, ``.so.0``, ``.so.0.0.N``, in two
    folders): llama-cpp-python's lib is 80% copies. One inode per content
    keeps every path working, and ``tarfile`` (``kbundle pack``) stores the
    extra names as links. Small files are left alone: not worth hashing.
    """
    by_size: dict[int, list[Path]] = {}
    for path in sorted(lib.rglob("*")):
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            if size >= min_size:
                by_size.setdefault(size, []).append(path)
    saved = 0
    for size, paths in by_size.items():
        if len(paths) < 2:
            continue
        first_of: dict[str, Path] = {}
        for path in paths:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            original = first_of.setdefault(digest, path)
            if original is path or original.stat().st_ino == path.stat().st_ino:
                continue
            temporary = path.with_name(f".{path.name}.kbundle-link")
            os.link(original, temporary)
            temporary.replace(path)
            saved += size
    return saved
