"""``kbundle pack``: a submission tarball with ``main.py`` at its root.

The archive is streamed (through ``pigz`` when it is installed, which uses
every core; Python's gzip otherwise), entries are sorted and normalised
(owner root, fixed mtime) so the same inputs give the same archive, and it is
written to a temporary file that replaces the output only when complete.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bundler.cache import atomic_writer
from bundler.errors import InputError, KbundleError
from bundler.vendor.libswap import is_leftover

#: Kaggle's upload limit for a submission file.
KAGGLE_LIMIT = 20 * 1000**3
_MTIME = 1_700_000_000  # fixed: reproducible archives


@dataclass(frozen=True)
class PackResult:
    output: Path
    files: int
    input_bytes: int
    output_bytes: int
    compressor: str


def parse_add(spec: str) -> tuple[Path, str]:
    """``PATH[:ARCNAME]`` → (path, name inside the archive)."""
    path_text, sep, arcname = spec.partition(":")
    path = Path(path_text)
    if not path.exists():
        raise InputError(f"--add {spec}: {path} does not exist", source="--add")
    name = arcname if sep and arcname else path.name
    if name.startswith("/") or ".." in Path(name).parts:
        raise InputError(f"--add {spec}: the name in the archive must be relative", source="--add")
    return path, name


def _members(root: Path, arcname: str) -> Iterator[tuple[Path, str]]:
    if root.is_dir():
        yield root, arcname
        for child in sorted(root.iterdir()):
            if child.name == "__pycache__" or is_leftover(child.name):
                continue
            yield from _members(child, f"{arcname}/{child.name}" if arcname else child.name)
    else:
        yield root, arcname


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = _MTIME
    return info


@contextmanager
def _compressed(raw: IO[bytes]) -> Iterator[tuple[IO[bytes], str]]:
    pigz = shutil.which("pigz")
    if pigz:
        proc = subprocess.Popen([pigz, "-c", "-n"], stdin=subprocess.PIPE, stdout=raw)
        assert proc.stdin is not None
        try:
            yield proc.stdin, "pigz"
        finally:
            proc.stdin.close()
            if proc.wait() != 0:
                raise KbundleError(f"pigz failed with exit code {proc.returncode}")
        return
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=_MTIME) as stream:
        yield stream, "gzip"  # type: ignore[misc]  # a GzipFile is a binary IO


def pack(
    source: Path,
    output: Path,
    extra: Sequence[tuple[Path, str]] = (),
    limit: int = KAGGLE_LIMIT,
    unpacked_limit: tuple[str, int] | None = None,
) -> PackResult:
    """Archive ``source`` (which must hold ``main.py``) plus ``extra`` into ``output``.

    ``unpacked_limit`` is a target's (name, bytes) cap on the unpacked files
    (AWS Lambda's 250 MB); exceeding it is an error before anything is written.
    """
    if not (source / "main.py").is_file():
        raise InputError(
            "has no main.py at its root",
            source=str(source),
            hint="Kaggle runs main.py from the root of the archive: pack the folder that holds "
            "it (and lib/).",
        )
    members = list(_members(source, ""))[1:]  # not the root folder itself
    for path, name in extra:
        members.extend(_members(path, name))
    names = [name for _, name in members]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(
            "two entries would share a name in the archive: " + ", ".join(duplicates),
            source="--add",
        )
    if unpacked_limit is not None:
        _check_unpacked(members, *unpacked_limit)
    input_bytes = 0
    with atomic_writer(output) as raw:
        with (
            _compressed(raw) as (stream, compressor),
            tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            for path, name in members:
                tar.add(path, arcname=name, recursive=False, filter=_normalise)
                if path.is_file():
                    input_bytes += path.stat().st_size
        raw.flush()
        size = os.fstat(raw.fileno()).st_size
        if size > limit:  # raised inside: the partial archive is removed, output untouched
            raise KbundleError(
                f"{output.name} would be {size / 1000**3:.1f} GB, above Kaggle's "
                f"{limit / 1000**3:.0f} GB upload limit",
                hint="Leave the model out (--add) and attach it as a Kaggle dataset instead.",
            )
    return PackResult(output, sum(p.is_file() for p, _ in members), input_bytes, size, compressor)


def _check_unpacked(members: Sequence[tuple[Path, str]], target: str, limit: int) -> None:
    size = sum(p.stat().st_size for p, _ in members if p.is_file() and not p.is_symlink())
    if size > limit:
        raise KbundleError(
            f"the files to pack take {size:,} bytes unpacked, above {target}'s limit of "
            f"{limit:,} bytes",
            hint="Vendor less (what the image has need not be in lib/), or deploy as a "
            "container image.",
        )
