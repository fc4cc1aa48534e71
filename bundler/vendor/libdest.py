"""Where a lib may go, and one vendor at a time per lib.

kbundle replaces a lib folder as a whole (:mod:`bundler.vendor.libswap`), so the
old folder's contents are deleted. :func:`check_destination` makes sure that
folder is one kbundle wrote (it holds ``kbundle.json`` and only files the
installed wheels' ``RECORD`` list), empty, or missing; anything else is
refused unless the user says ``force``. It also refuses what can never be
swapped by a rename: the root, a mount point, a file.

:func:`lib_lock` serialises runs on one lib with an exclusive ``flock`` on
``.<name>.kbundle-lock`` beside it. The kernel drops a ``flock`` when its
holder exits for any reason (``kill -9`` included), so a dead run never
leaves the lib locked. A second run waits, saying so, for up to
``KBUNDLE_LOCK_TIMEOUT`` seconds (default 1800: a CUDA build takes tens of
minutes), then fails naming the holder's process id. Opening the lock file is
also the first write beside the lib: a destination kbundle cannot write
(``/proc/x``, a read-only mount) fails there, before anything is downloaded.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from bundler.cache import take_lock
from bundler.errors import InputError, KbundleError

__all__ = ["MARKER", "LibLocked", "check_destination", "lib_lock", "lock_path"]

log = logging.getLogger(__name__)

#: The file every kbundle lib holds; its presence makes a folder replaceable.
MARKER = "kbundle.json"
DEFAULT_TIMEOUT = 1800.0


class LibLocked(KbundleError):
    """Another run held the lib's lock for longer than the timeout (exit code 1)."""


def check_destination(dest: Path, *, force: bool = False) -> Path:
    """The absolute lib path to vendor into; :class:`InputError` if it must not be replaced.

    Symbolic links are followed (the link stays, the folder it names is
    replaced). Refused: the root or a mount point (a rename cannot replace
    it), an existing file, and, unless ``force``, a non-empty folder that
    is not a kbundle lib.
    """
    resolved = Path(os.path.realpath(dest))
    shown = str(dest) if resolved == dest.absolute() else f"{dest} (-> {resolved})"
    if resolved.parent == resolved or os.path.ismount(resolved):
        raise InputError(
            f"the lib folder {shown} is a mount point (or the root): kbundle replaces the "
            "lib as a whole by renaming it, which is impossible there",
            source="-t/--lib",
            hint=f"Use a new folder inside it, e.g. {resolved / 'submission' / 'lib'}.",
        )
    if os.path.lexists(resolved) and not resolved.is_dir():
        raise InputError(
            f"the lib folder {shown} exists and is not a folder",
            source="-t/--lib",
            hint="Give the path of a folder (missing, empty, or a lib kbundle wrote).",
        )
    if force or not resolved.is_dir():
        return resolved
    if (resolved / MARKER).is_file():
        foreign = foreign_files(resolved)
        if foreign:
            raise InputError(
                f"{shown} is a kbundle lib, but it holds files kbundle did not install "
                f"({_sample(foreign)}); vendoring replaces the whole folder, which would "
                "delete them",
                source="-t/--lib",
                hint="Move them out of the lib (e.g. beside it), or pass --force to replace "
                "the lib and them.",
            )
        return resolved
    try:
        entries = sorted(p.name for p in resolved.iterdir())
    except OSError as exc:
        raise InputError(
            f"cannot read the lib folder {shown}: {exc.strerror}",
            source="-t/--lib",
            hint="Choose a folder you can write to.",
        ) from exc
    if not entries:
        return resolved
    raise InputError(
        f"{shown} is not empty and is not a kbundle lib (it has no {MARKER}); vendoring "
        f"replaces the whole folder, which would delete what is in it ({_sample(entries)})",
        source="-t/--lib",
        hint="Choose a new or empty folder, or pass --force to replace this one and its contents.",
    )


def foreign_files(lib: Path) -> list[str]:
    """Files in a kbundle lib that no installed distribution's ``RECORD`` lists.

    kbundle writes the RECORD of every wheel it installs (installer does), plus
    its own ``kbundle*`` files at the top; Python adds ``__pycache__`` when the
    lib is imported. Anything else was put there by someone else.
    """
    known = {p.name for p in lib.iterdir() if p.name.startswith("kbundle")}
    for record in lib.glob("*.dist-info/RECORD"):
        try:
            with record.open(newline="", encoding="utf-8") as handle:
                known.update(row[0] for row in csv.reader(handle) if row)
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
    foreign = []
    for folder, dirs, files in os.walk(lib):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        base = Path(folder).relative_to(lib)
        for name in files:
            relative = (base / name).as_posix()
            if relative not in known and not name.endswith(".pyc"):
                foreign.append(relative)
    return sorted(foreign)


def _sample(names: list[str]) -> str:
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(names[:3]) + more


def lock_path(dest: Path) -> Path:
    """The lock file of the lib ``dest`` (beside it, so the lib itself can be swapped)."""
    return dest.with_name(f".{dest.name}.kbundle-lock")


def _timeout(environ: Mapping[str, str]) -> float:
    text = environ.get("KBUNDLE_LOCK_TIMEOUT", "")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"must be a number of seconds, not {text!r}", source="KBUNDLE_LOCK_TIMEOUT"
        ) from None
    return max(value, 0.0)


def _open_lock_file(path: Path, dest: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # a full disk is the environment's failure, reported as such
        raise InputError(
            f"cannot write in {path.parent}, where the lib {dest} and its staging folder "
            f"must go: {exc.strerror or exc}",
            source="-t/--lib",
            hint="Choose a lib folder on a file system you can write to "
            "(e.g. submission/lib in your project).",
        ) from exc


@contextlib.contextmanager
def lib_lock(
    dest: Path,
    *,
    environ: Mapping[str, str] = os.environ,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the exclusive lock of the lib ``dest`` for the duration of the block.

    ``on_wait`` (default: a log warning) hears once that another run holds
    it. Raises :class:`LibLocked` after ``KBUNDLE_LOCK_TIMEOUT`` seconds, and
    :class:`InputError` when the lock file cannot be created at all.
    """
    path = lock_path(dest)

    def waiting(fd: int) -> None:
        message = f"waiting for another kbundle run{_holder(fd)} to finish with {dest}"
        (on_wait or log.warning)(message)

    def timed_out(fd: int) -> LibLocked:
        return LibLocked(
            f"another kbundle run{_holder(fd)} is vendoring into {dest} (it holds {path})",
            hint="Wait for it to finish, or stop it; set "
            "KBUNDLE_LOCK_TIMEOUT=SECONDS to wait longer.",
        )

    # The holder we waited for unlinks the file before letting go: take_lock
    # then locks the new one.
    fd, _ = take_lock(
        path,
        on_wait=waiting,
        timeout=_timeout(environ),
        on_timeout=timed_out,
        opener=lambda p: _open_lock_file(p, dest),
    )
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        # Unlinked while still held: no clutter left beside the lib (a killed
        # run leaves the file, unlocked, for the next run to reuse and remove).
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""
