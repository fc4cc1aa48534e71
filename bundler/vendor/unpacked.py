"""A cache of unpacked, verified wheels, from which libs are built by hard links.

Each wheel is installed once, by pypa/installer with kbundle's lib layout
(see :mod:`bundler.vendor.install`), into its own cache entry, keyed by the wheel's
sha256 and file name::

    <cache>/unpacked-v1/<xx>/<key>/tree/...     exactly what the wheel puts into a lib
    <cache>/unpacked-v1/<xx>/<key>/entry.json   its files: path, size, hash, mode, mtime
    <cache>/unpacked-v1/<xx>/<key>.lock         held while the entry is checked or built

**One pass.** :func:`bundler.vendor.unpack.unpack_wheel` decompresses every member
once, hashing it while installer writes it into the entry and comparing it
with RECORD; any problem discards the half-built entry, so a bad wheel never
reaches a lib.

**Complete or absent.** An entry is built in ``<key>.tmp`` and renamed to
``<key>`` once ``entry.json`` is written, under the entry's lock. A builder
killed half-way (``kill -9``) leaves ``<key>.tmp``: the next one, holding the
lock, deletes it and starts over. Two processes wanting one wheel take turns.

**Verified on every use.** Before an entry is used, each file's size and
modification time are compared with ``entry.json`` (one ``stat``, no read).
A file that was edited, truncated or deleted, or a missing or unreadable
``entry.json``, makes the entry be rebuilt from the wheel.

**Hard links and edits.** A lib built from the cache shares its files'
inodes with the entry, as uv's default link mode does. An editor that saves
by writing a new file and renaming it (most do) leaves the cache alone; one
that rewrites a lib file *in place* also changes the cached copy. kbundle
does not make the files read-only (that would change the modes a lib and a
submission archive carry, and root ignores it anyway); instead the changed
modification time is caught by the check above, and the entry is rebuilt
before any other lib links to it. ``link=False`` in
:func:`bundler.vendor.install.install_wheels` copies instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from bundler.cache import UNPACKED_LAYOUT as LAYOUT
from bundler.cache import file_lock, key_path
from bundler.vendor.wheel_errors import BadWheelError, WheelProblem

__all__ = [
    "EntryFile",
    "UnpackedWheel",
    "find_unpacked",
    "unpacked_wheel",
]

log = logging.getLogger(__name__)

_MANIFEST = "entry.json"
_FORMAT = 1
#: Files at least this big that have identical content share one inode.
SHARED_MIN_SIZE = 64 * 1024


@dataclass(frozen=True)
class EntryFile:
    """One file of an entry; ``path`` is relative to the lib, ``/``-separated."""

    path: str
    size: int
    #: RECORD-style ``sha256=<urlsafe base64>`` of the installed content.
    digest: str
    executable: bool
    mtime_ns: int


@dataclass(frozen=True)
class UnpackedWheel:
    """A verified cache entry: ``tree`` holds ``files``, laid out as in a lib."""

    wheel: str
    name: str
    version: str
    tree: Path
    files: tuple[EntryFile, ...]


def unpacked_wheel(wheel: Path, root: Path, *, sha256: str | None = None) -> UnpackedWheel:
    """The entry of ``wheel`` in the cache under ``root``, built when missing or damaged.

    ``sha256`` is the wheel's hex digest when the caller already knows it
    (from a lock); otherwise the file is hashed. Raises
    :class:`BadWheelError` with every problem found, or
    :class:`FileCollisionError` when the wheel writes one path twice.
    """
    filename = wheel.name
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise BadWheelError([WheelProblem(filename, f"not a wheel file name ({exc})")]) from exc
    digest = sha256.lower() if sha256 else _file_sha256(wheel, filename)
    entry = key_path(root / LAYOUT, f"{digest}/{filename}")
    with file_lock(entry.with_name(entry.name + ".lock")):
        found = _load(entry, filename)
        if found is not None:
            return found
        if entry.exists():
            log.info("cached unpacked %s changed or is incomplete; unpacking it again", filename)
            _discard(entry)
        building = entry.with_name(entry.name + ".tmp")
        _discard(building)  # left by a builder that was killed
        # installer is imported only now: a warm vendor finds every entry built.
        from bundler.vendor.unpack import unpack_wheel

        try:
            files = unpack_wheel(wheel, building / "tree", filename, str(name))
            manifest = {
                "format": _FORMAT,
                "wheel": filename,
                "name": str(name),
                "version": str(version),
                "files": [[f.path, f.size, f.digest, int(f.executable), f.mtime_ns] for f in files],
            }
            (building / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            building.rename(entry)
        except BaseException:
            _discard(building)
            raise
    return UnpackedWheel(filename, str(name), str(version), entry / "tree", files)


def find_unpacked(filename: str, sha256: str, root: Path) -> UnpackedWheel | None:
    """The verified entry of the wheel ``filename`` with this sha256, if cached.

    A vendor asks first, so that a wheel already unpacked is not even
    fetched from the download cache or a find-links folder.
    """
    entry = key_path(root / LAYOUT, f"{sha256.lower()}/{filename}")
    if not entry.is_dir():
        return None
    with file_lock(entry.with_name(entry.name + ".lock")):
        return _load(entry, filename)


def _file_sha256(path: Path, filename: str) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise BadWheelError([WheelProblem(filename, f"cannot be read: {exc}")]) from exc
    return digest.hexdigest()


def _load(entry: Path, filename: str) -> UnpackedWheel | None:
    """The entry when it is complete and unchanged since it was built, else None."""
    try:
        doc = json.loads((entry / _MANIFEST).read_text(encoding="utf-8"))
        if doc["format"] != _FORMAT or doc["wheel"] != filename:
            return None
        files = tuple(
            EntryFile(str(path), int(size), str(digest), bool(executable), int(mtime))
            for path, size, digest, executable, mtime in doc["files"]
        )
        name, version = str(doc["name"]), str(doc["version"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("%s: unreadable %s: %s", entry, _MANIFEST, exc)
        return None
    tree = entry / "tree"
    prefix = f"{tree}{os.sep}"
    for file in files:
        try:
            st = os.stat(prefix + file.path)  # noqa: PTH116 - no Path per file: hot loop
        except OSError:
            log.info("%s: %s is missing", entry, file.path)
            return None
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_size != file.size
            or st.st_mtime_ns != file.mtime_ns
        ):
            log.info("%s: %s was changed after it was unpacked", entry, file.path)
            return None
    return UnpackedWheel(filename, name, version, tree, files)


def _discard(path: Path) -> None:
    """Delete ``path``, renamed first so nothing ever sees it half deleted."""
    if not os.path.lexists(path):
        return
    doomed = path.with_name(f"{path.name}.old-{secrets.token_hex(4)}")
    path.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)
