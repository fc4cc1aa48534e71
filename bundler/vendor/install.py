"""Install wheels into a staging ``lib/`` folder: pypa/installer once, then hard links.

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

Each wheel is installed by installer, once, into kbundle's cache of unpacked
wheels (:mod:`bundler.vendor.unpacked`), and verified on the way: it must be a zip
with one matching ``.dist-info``, its RECORD must match its contents (hashes
and sizes), and no entry may land outside its folder (``../``, absolute
paths, symlink entries). A lib is then built from those entries with hard
links (a copy where the cache is on another file system): a warm install
writes directory entries, not bytes. Before the first link, no path may be
written by two wheels, or by a wheel and a file already in ``lib``, and no
symlink already in ``lib`` may lead out of it. All problems of all wheels
are collected and reported in one error, and ``lib`` is untouched by a bad
wheel. No bytecode is compiled: the target's Python version may differ from
the one running kbundle.
"""

from __future__ import annotations

import errno
import logging
import os
import posixpath
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bundler.cache import cache_dir
from bundler.vendor.unpacked import SHARED_MIN_SIZE, UnpackedWheel, unpacked_wheel
from bundler.vendor.wheel_errors import BadWheelError, Collision, FileCollisionError, WheelProblem

__all__ = [
    "BadWheelError",
    "Collision",
    "FileCollisionError",
    "InstalledWheel",
    "WheelProblem",
    "install_wheels",
]

log = logging.getLogger(__name__)

# ioctl(dest, FICLONE, src): a copy-on-write clone (btrfs, XFS, bcachefs).
_FICLONE = 0x40049409
# os.link failing with these means "not here": fall back to copying.
_NO_LINKS = {errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK}


@dataclass(frozen=True)
class InstalledWheel:
    """What one wheel put into ``lib``.

    ``files`` are the paths written, relative to ``lib`` with ``/`` separators
    (RECORD, INSTALLER and generated scripts included); ``bytes`` is their
    total size, of which ``shared_bytes`` are files whose content an earlier
    file in ``lib`` already has (the two names share one inode).
    """

    name: str
    version: str
    wheel: str
    files: tuple[str, ...]
    bytes: int
    shared_bytes: int = 0


def install_wheels(
    wheels: Sequence[Path | UnpackedWheel],
    lib: Path,
    *,
    cache: Path | None = None,
    hashes: Mapping[Path, str] | None = None,
    link: bool = True,
) -> list[InstalledWheel]:
    """Install ``wheels`` into ``lib`` (created if missing), in the given order.

    Each item is a wheel file or an entry of the unpacked-wheel cache found
    beforehand (:func:`bundler.vendor.unpacked.find_unpacked`).

    ``cache`` is the root of kbundle's cache (default :func:`cache_dir`);
    ``hashes`` gives the known sha256 of some wheels, so they need not be
    read when already unpacked. With ``link=False`` files are copied
    (reflinked where the file system can) instead of hard-linked.
    Raises :class:`BadWheelError` or :class:`FileCollisionError`, before
    anything is written into ``lib``, when a wheel is bad or two write one
    path. ``lib`` is meant to be a fresh staging folder (see
    :mod:`bundler.vendor.libswap`): a failure half-way through linking (disk
    full) leaves it partially filled.
    """
    root = cache if cache is not None else cache_dir()
    known = hashes or {}
    lib.mkdir(parents=True, exist_ok=True)
    problems: list[WheelProblem] = []
    collisions: list[Collision] = []
    entries: list[UnpackedWheel] = []
    seen_names: dict[str, str] = {}
    for wheel in wheels:
        try:
            entry = (
                wheel
                if isinstance(wheel, UnpackedWheel)
                else unpacked_wheel(Path(wheel), root, sha256=known.get(wheel))
            )
        except BadWheelError as exc:
            problems.extend(exc.problems)
            continue
        except FileCollisionError as exc:
            collisions.extend(exc.collisions)
            continue
        if entry.name in seen_names:
            problems.append(
                WheelProblem(
                    entry.wheel,
                    f"distribution {entry.name} is also installed from {seen_names[entry.name]}",
                )
            )
            continue
        seen_names[entry.name] = entry.wheel
        entries.append(entry)
    with os.scandir(lib) as listing:
        fresh = next(listing, None) is None
    if not fresh:
        problems.extend(_escaping(entries, lib))
    if problems:
        raise BadWheelError(problems)
    collisions.extend(_collisions(entries, lib, fresh))
    if collisions:
        raise FileCollisionError(collisions)
    return _link_all(entries, lib, link=link)


def _escaping(entries: Sequence[UnpackedWheel], lib: Path) -> list[WheelProblem]:
    """Paths that a symlink already in ``lib`` would lead out of it."""
    lib_real = os.path.realpath(lib)
    problems = []
    inside: dict[str, bool] = {}
    for entry in entries:
        for file in entry.files:
            parent = posixpath.dirname(file.path)
            if parent not in inside:
                real = os.path.realpath(lib / parent)
                inside[parent] = os.path.commonpath([lib_real, real]) == lib_real
            if not inside[parent]:
                reason = "would be written outside lib (through a symbolic link in lib)"
                problems.append(WheelProblem(entry.wheel, reason, file.path))
    return problems


def _collisions(entries: Sequence[UnpackedWheel], lib: Path, fresh: bool) -> list[Collision]:
    """Every path that two wheels, or a wheel and ``lib`` itself, would write."""
    owners: dict[str, str] = {}
    directories: dict[str, str] = {}
    collisions: list[Collision] = []
    for entry in entries:
        for file in entry.files:
            target = file.path
            if target in owners:
                collisions.append(Collision(target, owners[target], entry.wheel))
                continue
            if target in directories:
                detail = "a directory in the first, a file in the second"
                collisions.append(Collision(target, directories[target], entry.wheel, detail))
                continue
            if not fresh and os.path.lexists(lib / target):
                collisions.append(Collision(target, None, entry.wheel))
                continue
            parent = posixpath.dirname(target)
            while parent:
                if parent in owners:
                    detail = "a file in the first, a directory in the second"
                    collisions.append(Collision(parent, owners[parent], entry.wheel, detail))
                    break
                if parent in directories:
                    break  # and so are its parents
                directories[parent] = entry.wheel
                parent = posixpath.dirname(parent)
            owners[target] = entry.wheel
    return collisions


def _link_all(entries: Sequence[UnpackedWheel], lib: Path, *, link: bool) -> list[InstalledWheel]:
    """Create every entry's directories in ``lib``, then link (or copy) its files."""
    folders = {posixpath.dirname(f.path) for e in entries for f in e.files} - {""}
    for folder in sorted(folders):
        (lib / folder).mkdir(parents=True, exist_ok=True)
    placer = _Placer(link)
    prefix = f"{lib}{os.sep}"
    # Big files of equal content get one inode in lib, whichever wheel ships them.
    placed: dict[tuple[str, int, bool], str] = {}
    installed = []
    for entry in entries:
        tree = f"{entry.tree}{os.sep}"
        size = shared = 0
        for file in entry.files:
            destination = prefix + file.path
            size += file.size
            key = (file.digest, file.size, file.executable)
            first = placed.get(key) if file.size >= SHARED_MIN_SIZE else None
            if first is not None:
                placer.same(first, destination)
                shared += file.size
                continue
            placer.place(tree + file.path, destination)
            if file.size >= SHARED_MIN_SIZE:
                placed[key] = destination
        installed.append(
            InstalledWheel(
                entry.name,
                entry.version,
                entry.wheel,
                tuple(f.path for f in entry.files),
                size,
                shared,
            )
        )
    return installed


class _Placer:
    """Puts cached files into a lib: a hard link while the file system allows one."""

    def __init__(self, link: bool) -> None:
        self.link = link

    def place(self, source: str, destination: str) -> None:
        """``destination`` becomes ``source``'s content (same inode when linking)."""
        if self.link:
            try:
                os.link(source, destination)
                return
            except OSError as exc:
                if exc.errno not in _NO_LINKS:
                    raise
                if exc.errno != errno.EMLINK:  # EMLINK: only this inode is full
                    log.info("cannot hard-link from the cache (%s); copying instead", exc)
                    self.link = False
        _clone_or_copy(source, destination)

    def same(self, first: str, destination: str) -> None:
        """``destination`` becomes another name of ``first``, already in the lib."""
        try:
            os.link(first, destination)
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            _clone_or_copy(first, destination)


def _clone_or_copy(source: str, destination: str) -> None:
    """A reflink where the file system has them, else a plain copy; mode kept."""
    try:
        import fcntl

        with open(source, "rb") as src, open(destination, "xb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
    except (OSError, ImportError):
        shutil.copyfile(source, destination)
    shutil.copymode(source, destination)
