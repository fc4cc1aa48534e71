"""Writing a file the user named (a lock, an exported requirements file), and
refusing to replace a lock made for other requirements."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bundler.cache import atomic_write
from bundler.cli.report import show_path
from bundler.errors import InputError, disk_full, is_disk_full

if TYPE_CHECKING:
    from bundler.lock.model import Lock
    from bundler.request.model import LockRequest


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


def check_replacement(
    existing: Lock | None, request: LockRequest, path: Path, replace: bool
) -> str | None:
    """Refuse, or announce, replacing a lock that was made for other requirements.

    Requirements typed as arguments that differ from the existing lock's are
    refused unless ``replace``: that is how a quickstart's lock gets lost to
    an unrelated ``kbundle lock NAME``. Requirements read from files (``-r``,
    ``[tool.kbundle]``) are the record of what the user wants, so a change
    there replaces the lock with a warning (returned, for the caller to print).
    """
    if existing is None or not request.locked_for_other(existing):
        return None
    added, removed = request.requirement_change(existing)
    change = "; ".join(
        part
        for part in (
            "adds " + ", ".join(added) if added else "",
            "drops " + ", ".join(removed) if removed else "",
        )
        if part
    )
    shown = show_path(path)
    typed = any(r.source == "command line" for r in request.requirements)
    if typed and not replace:
        before = ", ".join(sorted(existing.requirements))
        other = show_path(path.with_name("pylock.other.toml"))
        raise InputError(
            f"{shown} was locked for other requirements ({before}); this lock {change}",
            source="kbundle lock",
            hint=f"Write it to another file with -o (e.g. -o {other}), give all the "
            "requirements, or pass --replace to overwrite the lock.",
        )
    return f"replacing {shown}, which was locked for other requirements: this lock {change}"
