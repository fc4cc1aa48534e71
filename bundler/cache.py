"""The on-disk cache directory and the one way files get into it.

Every file under :func:`cache_dir` is written through :func:`atomic_writer`
(a temporary file in the same directory, then ``os.replace``), so a reader
sees either nothing or a complete file, even when several threads or kbundle
processes write the same entry at once or a run is killed half-way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

import platformdirs

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The root of kbundle's cache: ``$KBUNDLE_CACHE_DIR`` or the user cache dir."""
    override = environ.get("KBUNDLE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("kbundle", appauthor=False))


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as handle:
        handle.write(data)


def read_or_none(path: Path) -> bytes | None:
    """The bytes of ``path``, or None when there is no such file."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
