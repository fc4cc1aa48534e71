"""What kbundle's cache holds, and removing it: ``kbundle cache info / clean / prune``.

The cache (:func:`bundler.cache.cache_dir`) is made of *sections*, one folder
each, and of *temporaries*: what a killed or interrupted run left behind
(``kbundle-fetch-*`` download folders, ``.tmp-*`` files and folders, ``*.tmp``
entries being built, ``*.old-*`` entries being deleted, ``*.part`` downloads to
resume). :func:`usage` measures
both; :func:`clean` removes sections, :func:`prune` only what no later run
needs. Both hold the cache lock exclusively (:func:`exclusive`), so they wait
for running commands, which hold it shared (:func:`bundler.cache.use_cache`),
and a temporary is never one a running command is still writing.

Sizes are apparent bytes of regular files, each inode counted once (as
``du -sb``). A lib is built by hard links from the ``unpacked`` section, so
those files stay on disk, in the lib, after the cache lets go of them:
:attr:`SectionUsage.linked` says how many bytes that is.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bundler.cache import CACHE_LOCK, UNPACKED_LAYOUT, take_lock
from bundler.errors import KbundleError


@dataclass(frozen=True)
class Section:
    """One folder of the cache: the name the user types, and what it holds.

    ``depth`` is how deep below the folder kbundle's own names go: a
    temporary is only looked for that far, never inside an entry's contents
    (an unpacked wheel's tree or a build environment may hold a file called
    ``x.part`` of its own).
    """

    name: str
    folder: str
    holds: str
    depth: int


SECTIONS: tuple[Section, ...] = (
    Section("http", "http", "index pages, with the validators that revalidate them", 2),
    Section("metadata", "metadata", "package metadata from wheels, sdists and build backends", 3),
    Section("files", "files", "downloaded wheels and sdists", 4),
    Section(
        "unpacked", UNPACKED_LAYOUT, "unpacked, verified wheels that libs are hard-linked from", 2
    ),
    Section("builds", "builds", "wheels built from sdists, and their build logs", 2),
    Section("build-envs", "build-envs", "the build backends' environments", 1),
    Section("hashes", "local-sha256", "sha256 of find-links files, by size and mtime", 2),
)
SECTION_NAMES: tuple[str, ...] = tuple(s.name for s in SECTIONS)
TEMPORARY = "temporary"
#: What ``prune --ci`` also removes: cheap to fetch again, big to keep in a CI
#: cache. Built wheels (minutes of compiling) and the small index and
#: metadata caches stay.
CI_PRUNED: tuple[str, ...] = ("files", "unpacked", "build-envs")

_FETCH_FOLDER = "kbundle-fetch-"
_OLD_LAYOUT = re.compile(r"unpacked-v\d+")


@dataclass
class SectionUsage:
    """How much one section (or the temporaries) holds: files, bytes, and the
    bytes of files also hard-linked from outside the cache (a lib's)."""

    name: str
    files: int = 0
    size: int = 0
    linked: int = 0


@dataclass
class Usage:
    """The cache at ``root``: each section's usage, the temporaries', and the
    top-level entries that are not kbundle's (left alone by every command)."""

    root: Path
    sections: dict[str, SectionUsage]
    foreign: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """All bytes kbundle holds here."""
        return sum(s.size for s in self.sections.values())

    @property
    def files(self) -> int:
        """All files kbundle holds here."""
        return sum(s.files for s in self.sections.values())


def is_temporary(name: str) -> bool:
    """Is a file or folder of this name the leftover of an unfinished write?"""
    # ``<entry>.old-<hex>``: an unpacked entry renamed aside to be deleted.
    return (
        name.startswith((".tmp-", _FETCH_FOLDER))
        or name.endswith((".tmp", ".part"))
        or ".old-" in name
    )


def usage(root: Path) -> Usage:
    """Measure the cache at ``root`` (a missing cache is empty)."""
    found = Usage(root, {name: SectionUsage(name) for name in (*SECTION_NAMES, TEMPORARY)})
    _tally(found.sections, _walk(root))
    found.foreign = _foreign(root)
    return found


def clean(
    root: Path, names: Iterable[str] | None = None, *, on_wait: Callable[[], object] | None = None
) -> Usage:
    """Remove the ``names`` sections (all of them, and the temporaries, when
    None) from the cache at ``root``; returns what was removed.

    Entries at the top of ``root`` that are not kbundle's are left alone.
    ``on_wait`` is told once if running commands are waited for.
    """
    chosen = set(SECTION_NAMES if names is None else names)
    removed = Usage(root, {})
    with exclusive(root, on_wait):
        for section in SECTIONS:
            if section.name in chosen:
                _take(removed, section.name, [root / section.folder])
        if names is None:
            _take(removed, TEMPORARY, _top_temporaries(root))
        removed.foreign = _foreign(root)
    return removed


def prune(root: Path, *, ci: bool = False, on_wait: Callable[[], object] | None = None) -> Usage:
    """Remove from the cache at ``root`` what no later run needs: temporaries,
    failed builds, unpacked wheels of an older layout; with ``ci``, also the
    :data:`CI_PRUNED` sections. Returns what was removed; ``on_wait`` as for :func:`clean`."""
    removed = Usage(root, {})
    with exclusive(root, on_wait):
        _take(removed, TEMPORARY, _prunable(root))
        for section in SECTIONS if ci else ():
            if section.name in CI_PRUNED:
                _take(removed, section.name, [root / section.folder])
    return removed


@contextlib.contextmanager
def exclusive(root: Path, on_wait: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold the cache lock of ``root`` exclusively: no kbundle command is using
    the cache meanwhile. ``on_wait`` is told once if running commands are waited for."""
    if not root.is_dir():
        yield  # nothing to guard; nothing is created
        return
    fd, _ = take_lock(root / CACHE_LOCK, on_wait=lambda fd: on_wait and on_wait())
    try:
        yield
    finally:
        os.close(fd)


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Every file under the sections and top-level temporaries, with the usage it counts to."""
    for section in SECTIONS:
        for path, temporary in _walk_tree(root / section.folder, section.depth):
            yield (TEMPORARY if temporary is not None else section.name), path
    for top in _top_temporaries(root):
        for path, _ in _walk_tree(top, 0):
            yield TEMPORARY, path


def _walk_tree(top: Path, depth: int) -> Iterator[tuple[Path, Path | None]]:
    """Every non-folder under ``top`` (``top`` itself if it is one), with the
    outermost temporary it lies in, looked for down to ``depth`` (None: none)."""
    if top.is_symlink() or not top.is_dir():
        if top.exists() or top.is_symlink():
            yield top, None
        return
    stack: list[tuple[Path, int, Path | None]] = [(top, 0, None)]
    while stack:
        folder, level, temporary = stack.pop()
        try:
            children = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for child in children:
            path = Path(child.path)
            inner = temporary
            if inner is None and level < depth and is_temporary(child.name):
                inner = path
            if child.is_dir(follow_symlinks=False):
                stack.append((path, level + 1, inner))
            else:
                yield path, inner


def _top_names(root: Path) -> list[str]:
    try:
        return sorted(path.name for path in root.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_top_temporary(name: str) -> bool:
    """A temporary at the top of the cache, or an older layout of the unpacked section."""
    return is_temporary(name) or (
        _OLD_LAYOUT.fullmatch(name) is not None and name != UNPACKED_LAYOUT
    )


def _top_temporaries(root: Path) -> list[Path]:
    return [root / name for name in _top_names(root) if _is_top_temporary(name)]


def _foreign(root: Path) -> tuple[str, ...]:
    """The top-level names that are not kbundle's, sorted."""
    known = {s.folder for s in SECTIONS} | {CACHE_LOCK}
    return tuple(n for n in _top_names(root) if n not in known and not _is_top_temporary(n))


def _prunable(root: Path) -> list[Path]:
    """What prune removes, each path once (a temporary folder goes whole):
    temporaries, older layouts, failed builds."""
    found = dict.fromkeys(_top_temporaries(root))
    for section in SECTIONS:
        for _, temporary in _walk_tree(root / section.folder, section.depth):
            if temporary is not None:
                found[temporary] = None
    builds = root / "builds"
    for entry in sorted(builds.iterdir()) if builds.is_dir() else ():
        if entry.is_dir() and not is_temporary(entry.name) and not any(entry.glob("*.whl")):
            found[entry] = None  # a failed build: only its log is left
    return list(found)


def _tally(into: dict[str, SectionUsage], files: Iterable[tuple[str, Path]]) -> None:
    """Add each ``(usage name, path)`` to ``into``: every name counts as a file,
    each inode's bytes once (to the first usage that names it), and as linked
    when more names point at it than ``files`` holds."""
    first: dict[tuple[int, int], tuple[str, os.stat_result, int]] = {}
    for name, path in files:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(info.st_mode) or path.name == CACHE_LOCK:
            continue
        into[name].files += 1
        key = (info.st_dev, info.st_ino)
        owner, _, names = first.get(key, (name, info, 0))
        first[key] = (owner, info, names + 1)
    for owner, info, names in first.values():
        into[owner].size += info.st_size
        if info.st_nlink > names:
            into[owner].linked += info.st_size


def _take(removed: Usage, name: str, paths: list[Path]) -> None:
    """Measure ``paths``, whole, into ``removed`` as ``name``, then delete them."""
    removed.sections[name] = SectionUsage(name)
    _tally(removed.sections, ((name, item) for top in paths for item, _ in _walk_tree(top, 0)))
    for path in paths:
        _remove(path)


def _remove(path: Path) -> None:
    """Delete ``path`` (a file or a whole folder); a missing one is fine."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise KbundleError(
            f"cannot remove {exc.filename or path} from kbundle's cache: {exc.strerror or exc}",
            hint="Fix its permissions (or run as the user who made the cache) and run the "
            "command again; what it removed before this is gone, the rest is as it was.",
        ) from exc
