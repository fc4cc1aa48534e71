"""Writing a file the user named (a lock, an exported requirements file)."""

from __future__ import annotations

from pathlib import Path

from bundler.cache import atomic_write
from bundler.errors import InputError, disk_full, is_disk_full


def write_output(path: Path, data: bytes, *, what: str, option: str) -> None:
    """Write ``data`` to ``path`` atomically; a path that cannot be written is bad input.

    ``what`` names the file ("the lock") and ``option`` the option that chose
    the path, so the message says which one to change. A full disk is the
    machine's failure (exit 1), with what was needed and what is free.
    """
    try:
        atomic_write(path, data)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(
                exc,
                what=f"the file system of {path.parent}",
                folder=path.parent,
                needed=len(data),
                hint=f"Free space there, or write {what} elsewhere with {option}.",
            ) from exc
        raise InputError(
            f"cannot write {what} to {path}: {exc.strerror or exc}",
            source=option,
            hint=f"Choose a path in a folder you can write to with {option}.",
        ) from exc
