"""The on-disk cache directory and the one way files get into it.

Every file under :func:`cache_dir` is written through :func:`atomic_writer`
(a temporary file in the same directory, then ``os.replace``), so a reader
sees either nothing or a complete file, even when several threads or kbundle
processes write the same entry at once or a run is killed half-way.

Large downloads use a :class:`PartFile` instead: a ``<name>.part`` file that
outlives a failed attempt (and a killed process) so the next one can resume
it, locked so that only one writer at a time appends to it, and moved into
place with ``os.replace`` once complete.

Every exclusive lock kbundle takes (a part file, a cache entry, a lib) is
taken by :func:`take_lock`; only how long it waits and what it says while
waiting differ.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

log = logging.getLogger(__name__)

_READ_CHUNK = 1 << 20
#: How often a lock with a timeout is tried again while another holder has it.
_LOCK_POLL = 0.2


if sys.platform == "win32":  # pragma: no cover - kbundle targets Linux

    def _lock(fd: int, *, blocking: bool, shared: bool = False) -> bool:
        """Windows has no flock: concurrent writers of one part file are not guarded."""
        return True

else:
    import fcntl

    def _lock(fd: int, *, blocking: bool, shared: bool = False) -> bool:
        """Take an exclusive (or ``shared``) flock on ``fd``; False when another
        holder excludes it and not ``blocking``."""
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The root of kbundle's cache: ``$KBUNDLE_CACHE_DIR`` or the user cache dir."""
    override = environ.get("KBUNDLE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    # Imported here: CI jobs that set KBUNDLE_CACHE_DIR skip its ~10 ms import.
    import platformdirs

    return Path(platformdirs.user_cache_dir("kbundle", appauthor=False))


#: The folder of the unpacked-wheel cache (:mod:`bundler.vendor.unpacked`), bumped
#: whenever what an entry holds changes (layout, shebang, prelude); named here so
#: ``kbundle cache`` can tell the current layout from older ones.
UNPACKED_LAYOUT = "unpacked-v1"
#: The cache-wide lock: every command that uses the cache holds it shared
#: (:func:`use_cache`), ``kbundle cache clean`` and ``prune`` exclusively.
CACHE_LOCK = ".lock"
#: The descriptor that holds this process's shared cache lock, while it lives.
_USING: dict[Path, int] = {}


def use_cache(root: Path | None = None) -> None:
    """Hold a shared lock on the cache for the rest of this process.

    ``kbundle cache clean`` takes the same lock exclusively, so it waits for
    running commands, and a command started during a clean waits for it to
    end instead of reading a half-deleted cache. Best effort: a cache that
    cannot be opened is not locked (the first write reports why). The
    descriptor is not inherited, so a build subprocess never holds the lock.
    """
    root = root or cache_dir()
    if root in _USING:
        return
    try:
        fd = _open_lock_file(root / CACHE_LOCK)
    except OSError as exc:
        log.debug("not locking the cache %s: %s", root, exc)
        return
    if not _lock(fd, blocking=False, shared=True):
        log.warning("waiting for `kbundle cache` to finish with %s", root)
        _lock(fd, blocking=True, shared=True)
    _USING[root] = fd


def key_path(root: Path, key: str, suffix: str = "") -> Path:
    """A path for ``key`` under ``root``, fanned out by the key's sha256.

    Keys are hashed so that URLs (which may carry credentials) never appear in
    file names, and fanned out on two hex digits so no directory grows huge.
    """
    digest = hashlib.sha256(key.encode()).hexdigest()
    return root / digest[:2] / (digest + suffix)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path``; move it into place on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        tmp.replace(path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a failed write() names no file: say which one
        raise


#: Folders this process made or found, so a cold lock's hundreds of cache writes
#: do not each ask the file system for every parent again.
_KNOWN_DIRS: set[Path] = set()
_TEMP_NAMES = itertools.count()


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new, exclusive temporary file beside ``path``, with the mode open() gives.

    Unlike tempfile.mkstemp (0600, then a chmod) the name is unique by process,
    thread and counter, and the umask makes the mode, as for any new file: a
    lock or a lib's kbundle_boot.py must be readable by another user's harness.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    if path.parent not in _KNOWN_DIRS:
        path.parent.mkdir(parents=True, exist_ok=True)
        _KNOWN_DIRS.add(path.parent)
    for _ in range(100):
        tmp = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{next(_TEMP_NAMES)}.part")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue  # left by a killed process that had this pid: take the next name
        except FileNotFoundError:
            # The folder was removed since (a cleared cache): make it again.
            path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(tmp, flags, 0o666), tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as handle:
        handle.write(data)


def locks_path(fd: int, path: Path) -> bool:
    """Is the file open as ``fd`` still the one ``path`` names?

    A lock taken after waiting may be on an orphaned inode: the holder we
    waited for renamed or deleted the file before letting go. Then the lock
    protects nothing and must be taken again on the current file (the classic
    lock-file-with-rename check).
    """
    try:
        current = path.stat().st_ino
    except FileNotFoundError:
        return False
    return current == os.fstat(fd).st_ino


def take_lock(
    path: Path,
    *,
    on_wait: Callable[[int], object],
    timeout: float | None = None,
    on_timeout: Callable[[int], BaseException] | None = None,
    opener: Callable[[Path], int] | None = None,
) -> tuple[int, bool]:
    """Open ``path`` (created if missing) and take an exclusive ``flock`` on it.

    Returns the descriptor, which the caller owns (closing it releases the
    lock), and whether another holder had to be waited for. When the lock is
    held, ``on_wait(fd)`` is told once, then the call waits: with no
    ``timeout`` until the holder lets go, else for up to ``timeout`` seconds
    before raising ``on_timeout(fd)`` (both get the descriptor, to read what
    the holder wrote there). A lock taken after waiting is checked with
    :func:`locks_path` and taken again on whatever the path names now.
    ``opener`` opens the file (default: create it and its folder), for a
    caller that reports an unwritable place in its own words.

    A killed holder's lock is released by the kernel, so no lock outlives
    its process.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    waited = False
    while True:
        fd = (opener or _open_lock_file)(path)
        try:
            while not _lock(fd, blocking=False):
                if deadline is not None and time.monotonic() >= deadline:
                    if on_timeout is None:
                        raise TimeoutError(f"{path} is still locked after {timeout} s")
                    raise on_timeout(fd)
                if not waited:
                    waited = True
                    on_wait(fd)
                if deadline is None:
                    _lock(fd, blocking=True)  # the kernel wakes us: no polling
                    break
                # flock cannot time out: poll until the deadline.
                time.sleep(_LOCK_POLL)
            if locks_path(fd, path):
                return fd, waited
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _open_lock_file(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _waiting_for(path: Path) -> Callable[[int], None]:
    """The ``on_wait`` of kbundle's cache locks: a log line naming the entry."""
    return lambda fd: log.info("waiting for another kbundle process to finish %s", path.name)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) while inside.

    Blocks while another thread or process holds it; a killed holder's lock
    is released by the kernel. The file itself stays: it is only a name.
    """
    fd, _ = take_lock(path, on_wait=_waiting_for(path))
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


def read_or_none(path: Path) -> bytes | None:
    """The bytes of ``path``, or None when there is no such file."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class PartFile:
    """An exclusively locked partial download, kept between attempts and runs.

    Only :func:`open_part` creates one. The lock (``flock``, held until the
    context exits) means two threads or two kbundle processes never append
    to the same part file; :attr:`waited` tells whether another writer held
    it first (it may have finished the file meanwhile). :meth:`commit` and
    :meth:`discard` end its life; after either the object must not be used.
    """

    def __init__(self, path: Path, handle: IO[bytes], *, waited: bool) -> None:
        self.path = path
        self.waited = waited
        self._handle = handle

    @property
    def size(self) -> int:
        """How many bytes the part file holds."""
        return self._handle.seek(0, os.SEEK_END)

    def append(self, data: bytes) -> None:
        """Add ``data`` at the end, flushed so a crash loses at most this chunk."""
        self._handle.seek(0, os.SEEK_END)
        try:
            self._handle.write(data)
            self._handle.flush()
        except OSError as exc:
            if exc.filename is None:
                exc.filename = str(self.path)  # a full disk: say which file system
            raise

    def truncate(self) -> None:
        """Drop every byte: the next attempt starts from scratch."""
        self._handle.truncate(0)
        self._handle.flush()

    def read_from(self, offset: int) -> Iterator[bytes]:
        """The bytes from ``offset`` to the end, in chunks (to hash what an
        earlier process wrote)."""
        self._handle.seek(offset)
        while chunk := self._handle.read(_READ_CHUNK):
            yield chunk

    def commit(self, dest: Path) -> None:
        """Move the complete file to ``dest`` (same directory, so atomic)."""
        self._handle.flush()
        # Renamed while the lock is still held: a waiting writer then finds
        # the part path gone (see open_part) instead of appending to ``dest``.
        self.path.replace(dest)

    def discard(self) -> None:
        """Delete the part file (its bytes are useless: wrong hash, file gone)."""
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def open_part(path: Path) -> Iterator[PartFile]:
    """Open (creating if needed) and exclusively lock the part file ``path``.

    Blocks while another thread or process holds it. The lock is released
    when the context exits; the file itself stays (unless committed,
    discarded or empty) so a later attempt or run can resume it.
    """
    # The holder we waited for may have renamed (committed) or deleted the
    # file: take_lock then starts over on whatever the path names now.
    fd, waited = take_lock(path, on_wait=_waiting_for(path))
    handle = os.fdopen(fd, "r+b")
    try:
        yield PartFile(path, handle, waited=waited)
    finally:
        # An empty part file (nothing arrived, or a writer we waited for
        # finished the file) is only clutter; checked while still locked.
        with contextlib.suppress(FileNotFoundError):
            mine = os.fstat(handle.fileno())
            if mine.st_size == 0 and path.stat().st_ino == mine.st_ino:
                path.unlink()
        handle.close()  # releases the lock
