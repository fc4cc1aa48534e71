"""The one error hierarchy of kbundle.

Every failure a user can cause or fix is a :class:`KbundleError`. Subclasses
carry structured fields; the CLI renders ``str(error)`` as one paragraph and
exits with :attr:`KbundleError.exit_code`. Nothing else may reach the user as
a traceback.
"""

from __future__ import annotations

import errno
import shutil
import tempfile
from pathlib import Path


class KbundleError(Exception):
    """Base class: a message for people and the exit code the CLI uses."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            sep = " " if self.message.endswith((".", "!", "?", ":")) else ". "
            return f"{self.message}{sep}{self.hint}"
        return self.message


class InputError(KbundleError):
    """Bad input from the user: a file, an option or a value (exit code 2).

    ``source`` names the file (or option) and ``line`` the 1-based line, when
    known, so the message can point at the exact place.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(where + message, hint=hint)
        self.source = source
        self.line = line


class NetworkError(KbundleError):
    """An index or file could not be fetched (exit code 1)."""


class OfflineMiss(NetworkError):
    """``--offline`` was given and the cache does not hold what is needed."""


class DiskFull(KbundleError):
    """A file system ran out of space or quota (exit code 1).

    The message says which one (the lib's, kbundle's cache), how much the
    step needed when that is known, and how much is free.
    """


#: errno values that mean "out of space": the machine's state, never a bug.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: errno values of OSErrors that are the environment's doing (permissions,
#: read-only or full file systems, limits), not kbundle's.
ENVIRONMENT_ERRNOS = DISK_FULL_ERRNOS | frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG, errno.EIO, errno.EMFILE}
)


def is_disk_full(exc: BaseException) -> bool:
    """Is ``exc`` an OSError saying a file system is full (or a quota is used up)?"""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def megabytes(size: int) -> str:
    """``size`` bytes for a message: ``3.1 MB``."""
    return f"{size / 1e6:.1f} MB"


def free_bytes(folder: Path) -> int | None:
    """Free bytes on the file system of ``folder`` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def written_path(exc: OSError) -> Path | None:
    """The file a failed write went to, if the error names it.

    A failed copy names its source in ``filename`` and its destination in
    ``filename2`` (shutil's fast copies do so): the destination is the file
    system that filled up.
    """
    name = exc.filename2 or exc.filename
    return Path(name) if name else None


def disk_full(exc: OSError, *, what: str, folder: Path, needed: int | None, hint: str) -> DiskFull:
    """The :class:`DiskFull` error for ``exc`` on ``what`` (e.g. "kbundle's cache at X")."""
    free = free_bytes(folder)
    amounts = []
    if needed is not None:
        amounts.append(f"about {megabytes(needed)} was needed")
    if free is not None:
        amounts.append(f"{megabytes(free)} is free there")
    detail = f": {' and '.join(amounts)}" if amounts else ""
    written = written_path(exc)
    where = f", writing {written}" if written else ""
    return DiskFull(f"{what} is full ({exc.strerror or exc}{where}){detail}.", hint=hint)


def environment_error(exc: OSError, cache: Path) -> KbundleError | None:
    """A one-paragraph error for an OSError the machine caused; None for anything else.

    ``cache`` is kbundle's cache folder, so a failure inside it can say so.
    Used by the CLI as the last net: the steps that know more (the lib, the
    downloads, an output file) raise their own, more precise errors first.
    """
    path = written_path(exc)
    in_cache = path is not None and (path == cache or cache in path.parents)
    if in_cache and not _writable_folder(cache):
        return InputError(
            f"kbundle's cache folder {cache} cannot be used: {exc.strerror or exc}",
            source="KBUNDLE_CACHE_DIR",
            hint="Set KBUNDLE_CACHE_DIR to a folder you can write to (or unset it for "
            "the user cache folder).",
        )
    if exc.errno not in ENVIRONMENT_ERRNOS:
        return None
    if exc.errno in DISK_FULL_ERRNOS:
        if path is None:
            what, folder = "a file system kbundle writes to", cache
            hint = f"Free space on it (the cache is {cache}; KBUNDLE_CACHE_DIR moves it)."
        elif in_cache:
            what, folder = f"kbundle's cache at {cache}", cache
            hint = (
                "Free space there, or set KBUNDLE_CACHE_DIR to a folder on a file system with room."
            )
        else:
            what, folder = f"the file system of {path.parent}", path.parent
            hint = "Free space there, or choose a location on another file system."
        return disk_full(exc, what=what, folder=folder, needed=None, hint=hint)
    reason = exc.strerror or str(exc)
    if path is None:
        return KbundleError(
            f"a file could not be read or written: {reason}.",
            hint="Check the paths given (files, -f folders, -t, -o) and their permissions; "
            "-vv shows where.",
        )
    if in_cache:
        return KbundleError(
            f"cannot use {path} in kbundle's cache: {reason}.",
            hint="Set KBUNDLE_CACHE_DIR to a folder you can write to.",
        )
    return KbundleError(
        f"cannot use {path}: {reason}.",
        hint="Check the path and its permissions, or choose another location.",
    )


def _writable_folder(folder: Path) -> bool:
    """Can files be created in ``folder`` (made if missing)? Probed on the error path only."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False
