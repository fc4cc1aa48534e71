"""``kbundle vendor --wheelhouse``: the locked wheels for ``pip install --no-index``.

Some notebooks install packages rather than put a lib on ``sys.path`` (a
package that must replace the image's copy for every process, a tool that
wants a real installation). A wheelhouse serves that, offline: the wheels the
lock vendors (downloaded and hash-checked, built ones included) plus a
``requirements.txt`` that pins each to its version and the sha256 of the very
file beside it, so ``pip install --no-index --find-links DIR -r
DIR/requirements.txt`` runs in hash-checking mode and installs exactly these
files. Nothing the image provides is in it: pip finds those installed.

The folder is assembled beside ``DIR`` and swapped in like a lib
(:mod:`bundler.vendor.libswap`); an existing ``DIR`` that is not a wheelhouse
kbundle wrote is refused, never replaced.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from bundler import __version__
from bundler.cache import cache_dir
from bundler.errors import InputError
from bundler.lock.model import Lock
from bundler.vendor.fetch import fetch_and_build
from bundler.vendor.libswap import recover, staging_dir, swap_into_place
from bundler.vendor.request import ProgressFactory, VendorRequest

__all__ = [
    "REQUIREMENTS",
    "WheelhouseOutcome",
    "WheelhouseWheel",
    "check_dest",
    "install_command",
    "run_wheelhouse",
]

REQUIREMENTS = "requirements.txt"
_MARK = "# kbundle wheelhouse"


@dataclass(frozen=True)
class WheelhouseWheel:
    name: str
    version: str
    source: str
    filename: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class WheelhouseOutcome:
    folder: Path
    seconds: float
    wheels: tuple[WheelhouseWheel, ...]
    install_command: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def install_command(folder: Path | str) -> str:
    """The offline pip command for a wheelhouse at ``folder``."""
    return f"pip install --no-index --find-links {folder} -r {folder}/{REQUIREMENTS}"


def run_wheelhouse(
    request: VendorRequest, dest: Path, progress: ProgressFactory | None = None
) -> WheelhouseOutcome:
    """Write the wheelhouse of ``request.lock`` into ``dest`` (see the module docstring)."""
    started = time.perf_counter()
    notes = recover(dest)
    check_dest(dest)
    with tempfile.TemporaryDirectory(prefix="kbundle-fetch-", dir=cache_dir()) as tmp:
        # The wheel files themselves, never unpacked cache entries: pip installs them.
        fetched = fetch_and_build(request, Path(tmp), progress, unpacked=False)
        files = [w for w in fetched.wheels if isinstance(w, Path)]
        staging = staging_dir(dest)
        try:
            entries = [_add(path, staging, fetched.sources) for path in [*files, *fetched.built]]
            entries.sort(key=lambda w: w.name)
            command = install_command(dest)
            text = render_requirements(entries, request.lock, command)
            (staging / REQUIREMENTS).write_text(text, encoding="utf-8")
            swap_into_place(staging, dest)
        except BaseException:
            recover(dest)
            raise
    return WheelhouseOutcome(
        dest,
        time.perf_counter() - started,
        tuple(entries),
        command,
        (*notes, *fetched.notes),
        fetched.warnings,
    )


def _add(wheel: Path, staging: Path, sources: Mapping[str, str]) -> WheelhouseWheel:
    name, version, _build, _tags = parse_wheel_filename(wheel.name)
    target = staging / wheel.name
    shutil.copyfile(wheel, target)
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return WheelhouseWheel(
        str(name),
        str(version),
        sources.get(str(name), "vendor"),
        wheel.name,
        digest.hexdigest(),
        target.stat().st_size,
    )


def render_requirements(wheels: Sequence[WheelhouseWheel], lock: Lock, command: str) -> str:
    """``requirements.txt``: every wheel pinned to its version and file hash."""
    shadows = {str(canonicalize_name(p.name)): p.shadows for p in lock.packages if p.shadows}
    lines = [
        f"{_MARK} (kbundle {__version__}) for target {lock.target_name} "
        f"({lock.target_fingerprint}).",
        "# The packages the image lacks, each pinned to the sha256 of the wheel in this",
        "# folder. Install them with no network, in the image:",
        "#",
        f"#    {command}",
        "#",
    ]
    for wheel in wheels:
        lines.append(f"{wheel.name}=={wheel.version} \\")
        lines.append(f"    --hash=sha256:{wheel.sha256}")
        if wheel.source == "build":
            lines.append(f"    # built from source by kbundle: {wheel.filename}")
        if wheel.name in shadows:
            lines.append(f"    # replaces the image's {wheel.name}=={shadows[wheel.name]}")
    image = [p for p in lock.packages if p.source == "image"]
    if image:
        lines.append("")
        lines.append("# Provided by the image, not installed:")
        lines.extend(f"#   {p.name}=={p.version}" for p in image)
    return "\n".join(lines) + "\n"


def check_dest(dest: Path) -> None:
    """Refuse a ``dest`` that exists and is neither empty nor a wheelhouse kbundle wrote."""
    if not dest.exists():
        return
    if not dest.is_dir():
        raise InputError("exists and is not a folder", source=str(dest))
    requirements = dest / REQUIREMENTS
    ours = requirements.is_file() and requirements.read_text(errors="replace").startswith(_MARK)
    if not ours and any(dest.iterdir()):
        raise InputError(
            "is not empty and is not a wheelhouse kbundle wrote; it is left as it is",
            source=str(dest),
            hint="Give a new or empty folder to --wheelhouse.",
        )
