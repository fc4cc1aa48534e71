"""Replace a ``lib/`` folder atomically with a freshly built one.

The new lib is built in a staging directory beside ``dest`` (same filesystem,
so renames are atomic), then swapped in:

* Linux: ``renameat2(staging, dest, RENAME_EXCHANGE)`` swaps the two names in
  one step; the old tree then sits at the staging path and is deleted.
* Elsewhere, or when the filesystem refuses the flag: ``dest`` is renamed to
  ``.<name>.kbundle-old-<random>``, staging to ``dest``, then the old tree is
  deleted. Between those two renames ``dest`` does not exist.

Invariant: if the process is killed at ANY point (``kill -9``) and
:func:`recover` runs afterwards, ``dest`` is either the complete old lib or
the complete new lib, never a mix and never missing (if it existed before).
``recover`` restores a lone ``-old-`` tree when ``dest`` is missing and
deletes every other leftover; the vendor command runs it first thing. The
guarantee is about process death: file contents are not fsync'ed, so after
a power loss the new tree may hold truncated files (only the directory
renames are flushed). Two vendors running at once on one ``dest`` are not
supported here; :func:`bundler.vendor.libdest.lib_lock` serialises them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from bundler.errors import KbundleError

__all__ = ["recover", "staging_dir", "swap_into_place"]

_NEW = "kbundle-new-"
_OLD = "kbundle-old-"

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# Used only when libc has no renameat2() wrapper (glibc < 2.28, old musl).
_SYS_RENAMEAT2 = {"x86_64": 316, "i386": 353, "i686": 353, "aarch64": 276, "riscv64": 276}
# The kernel or filesystem cannot exchange: fall back to two renames.
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def is_leftover(name: str) -> bool:
    """Is ``name`` one of the hidden files kbundle keeps beside a lib?

    The staging and previous trees of a swap (``.<lib>.kbundle-new-*``,
    ``.<lib>.kbundle-old-*``) and the lib's lock file (``.<lib>.kbundle-lock``,
    left behind by a run killed with ``kill -9``): never part of a submission.
    """
    if not name.startswith("."):
        return False
    _, sep, rest = name[1:].partition(".kbundle-")
    return bool(sep) and (rest == "lock" or rest.startswith(("new-", "old-")))


def staging_dir(dest: Path) -> Path:
    """Create and return an empty directory beside ``dest`` to build the new lib in.

    It is named ``.<dest.name>.kbundle-new-<random>`` so :func:`recover` can
    find it, and lives in ``dest``'s parent so the swap is a rename within
    one filesystem.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{_NEW}", dir=dest.parent))
    # mkdtemp makes it 0700; the swapped-in lib must carry normal permissions
    # (a submission archive preserves them and the harness may be another user).
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o777 & ~umask)
    return path


def swap_into_place(staging: Path, dest: Path) -> None:
    """Make ``staging`` become ``dest`` atomically and delete the previous ``dest``.

    ``staging`` must come from :func:`staging_dir` for the same ``dest``.
    Raises :class:`~bundler.errors.KbundleError` when a rename fails for any
    reason other than "exchange not supported"; ``dest`` is then unchanged.
    """
    if not staging.is_dir():
        raise KbundleError(f"staging directory {staging} does not exist")
    if staging.parent.resolve() != dest.parent.resolve():
        raise KbundleError(f"staging directory {staging} is not beside {dest}")
    try:
        if not os.path.lexists(dest):
            staging.rename(dest)
            _fsync_dir(dest.parent)
            return
        try:
            _exchange(staging, dest)
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            _swap_by_renames(staging, dest)
            return
        # One atomic step: dest is now the new tree, staging holds the old
        # one. A kill from here on leaves only a "-new-" leftover for recover().
        _fsync_dir(dest.parent)
        _remove(staging)
    except OSError as exc:
        raise KbundleError(f"could not move the new lib into place at {dest}: {exc}") from exc


def recover(dest: Path) -> list[str]:
    """Repair what an interrupted :func:`swap_into_place` left beside ``dest``.

    If ``dest`` is missing and one ``.<name>.kbundle-old-*`` tree exists, the
    process died between the two fallback renames: that tree is the complete
    previous lib and is renamed back. All other ``-new-`` (unfinished or
    already replaced) and ``-old-`` trees are deleted. Returns one
    human-readable note per action, empty when there was nothing to do.
    """
    parent = dest.parent
    if not parent.is_dir():
        return []
    news = sorted(p for p in parent.iterdir() if p.name.startswith(f".{dest.name}.{_NEW}"))
    olds = sorted(p for p in parent.iterdir() if p.name.startswith(f".{dest.name}.{_OLD}"))
    notes: list[str] = []
    if olds and not os.path.lexists(dest):
        if len(olds) > 1:
            names = ", ".join(p.name for p in olds)
            raise KbundleError(
                f"{dest} is missing and several previous copies exist beside it ({names}).",
                hint="Were two vendors run at once? Rename the right one to "
                f"{dest.name} by hand and delete the others.",
            )
        olds[0].rename(dest)
        _fsync_dir(parent)
        notes.append(f"restored the previous {dest} from {olds[0].name} (a swap was interrupted)")
        olds = []
    for leftover in news:
        _remove(leftover)
        notes.append(f"removed unfinished or replaced lib {leftover}")
    for leftover in olds:
        _remove(leftover)
        notes.append(f"removed previous lib {leftover}")
    return notes


def _swap_by_renames(staging: Path, dest: Path) -> None:
    """Two renames; a kill between them leaves ``dest`` missing and an -old- tree."""
    old = dest.with_name(f".{dest.name}.{_OLD}{secrets.token_hex(4)}")
    dest.rename(old)
    try:
        staging.rename(dest)
    except OSError:
        old.rename(dest)
        raise
    _fsync_dir(dest.parent)
    _remove(old)


def _exchange(a: Path, b: Path) -> None:
    """Atomically exchange the names ``a`` and ``b``; OSError(ENOSYS…) when unsupported."""
    if not sys.platform.startswith("linux"):
        raise OSError(errno.ENOSYS, "RENAME_EXCHANGE is Linux-only")
    _renameat2(os.fsencode(a), os.fsencode(b), _RENAME_EXCHANGE)


def _renameat2(old: bytes, new: bytes, flags: int) -> None:
    """Call renameat2(2) through libc, or the raw syscall when libc lacks it."""
    libc = ctypes.CDLL(None, use_errno=True)
    function = getattr(libc, "renameat2", None)
    if function is not None:
        function.argtypes = [
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_uint,
        ]
        result = function(_AT_FDCWD, old, _AT_FDCWD, new, flags)
    else:
        number = _SYS_RENAMEAT2.get(platform.machine())
        if number is None:
            raise OSError(errno.ENOSYS, f"renameat2 syscall number unknown on {platform.machine()}")
        result = libc.syscall(
            ctypes.c_long(number),
            ctypes.c_int(_AT_FDCWD),
            ctypes.c_char_p(old),
            ctypes.c_int(_AT_FDCWD),
            ctypes.c_char_p(new),
            ctypes.c_uint(flags),
        )
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), os.fsdecode(old), None, os.fsdecode(new))


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def _fsync_dir(path: Path) -> None:
    """Flush a directory's entries so a completed rename survives a crash."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
