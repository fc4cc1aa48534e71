"""``kbundle vendor`` as a library call: the steps from a lock to a lib in place.

:func:`run_vendor` runs them in order, each a function that returns what the
next one takes:

1. check the destination (:mod:`.libdest`) and take its lock;
2. recover what an interrupted run left (:mod:`.libswap`);
3. fetch the lock's files and build its sdists (:mod:`.fetch`);
4. install them into a staging folder beside the destination (:mod:`.install`);
5. write ``kbundle_boot.py`` and ``kbundle.json`` there (:mod:`.lib_manifest`,
   :mod:`.bootstrap`);
6. swap the staging folder into place with one rename (:mod:`.libswap`).

An interrupted or failed vendor therefore leaves the previous lib as it was;
a full file system becomes a :class:`~bundler.errors.DiskFull` that says which
one and how much was needed (:func:`_disk_full`).
"""

from __future__ import annotations

import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bundler.cache import atomic_write, cache_dir
from bundler.errors import (
    DiskFull,
    InputError,
    disk_full,
    free_bytes,
    is_disk_full,
    megabytes,
    written_path,
)
from bundler.index.finder import Finder
from bundler.lock.model import Lock, LockedPackage
from bundler.net.client import HttpClient
from bundler.target.model import Target
from bundler.vendor.bootstrap import render_bootstrap
from bundler.vendor.fetch import Fetched, artifact_link, fetch_and_build
from bundler.vendor.install import InstalledWheel, install_wheels
from bundler.vendor.lib_manifest import boot_info, lib_manifest
from bundler.vendor.libdest import check_destination, lib_lock
from bundler.vendor.libswap import recover, staging_dir, swap_into_place
from bundler.vendor.request import ProgressFactory, VendorRequest


@dataclass(frozen=True)
class VendoredPackage:
    name: str
    version: str
    source: str
    bytes: int


@dataclass(frozen=True)
class VendorOutcome:
    lib: Path
    seconds: float
    packages: tuple[VendoredPackage, ...]
    image: tuple[LockedPackage, ...]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: Bytes the lib takes on disk (hard-linked copies counted once).
    bytes: int = 0


def check_lock_matches_target(lock: Lock, target: Target, lock_source: str) -> None:
    """A lock is only valid for the exact target it was resolved for."""
    if lock.target_fingerprint != target.fingerprint:
        raise InputError(
            f"the lock was made for target {lock.target_name} ({lock.target_fingerprint}), "
            f"but the target is {target.name} ({target.fingerprint})",
            source=lock_source,
            hint="Re-lock for this target with `kbundle lock`, or pass the lock's target "
            "with --target.",
        )


def run_vendor(
    request: VendorRequest,
    progress: ProgressFactory | None = None,
    *,
    client: HttpClient | None = None,
) -> VendorOutcome:
    """Vendor ``request.lock`` into ``request.lib`` (see the module docstring).

    The lib must be missing, empty or a kbundle lib (unless ``force``), and
    one run at a time holds it (:mod:`bundler.vendor.libdest`). ``client``
    fetches the files; by default an :class:`HttpClient` honouring
    ``request.offline``. A full file system is a
    :class:`~bundler.errors.DiskFull` saying which one and what it needed.
    """
    request = replace(request, lib=check_destination(request.lib, force=request.force))
    cache_dir().mkdir(parents=True, exist_ok=True)
    with lib_lock(request.lib):
        started = time.perf_counter()  # the run itself, not the wait for the lock
        try:
            recovered = recover(request.lib)
            fetched, installed = _fetch_and_place(request, progress, client)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            raise _disk_full(exc, request) from exc
    return vendor_outcome(request, fetched, installed, recovered, time.perf_counter() - started)


def _fetch_and_place(
    request: VendorRequest, progress: ProgressFactory | None, client: HttpClient | None
) -> tuple[Fetched, list[InstalledWheel]]:
    """Steps 3 to 6: the files fetched, and the wheels of the lib now in place."""
    with tempfile.TemporaryDirectory(prefix="kbundle-fetch-", dir=cache_dir()) as downloads:
        fetched = fetch_and_build(request, Path(downloads), progress, client=client)
        staging = staging_dir(request.lib)
        try:
            installed = install_wheels(
                [*fetched.wheels, *fetched.built], staging, hashes=fetched.hashes
            )
            write_lib_files(request, installed, fetched.sources, staging)
            swap_into_place(staging, request.lib)
        except BaseException:
            recover(request.lib)
            raise
    return fetched, installed


def write_lib_files(
    request: VendorRequest,
    installed: Sequence[InstalledWheel],
    sources: Mapping[str, str],
    staging: Path,
) -> None:
    """Step 5: ``kbundle_boot.py`` and ``kbundle.json`` into the staging lib."""
    atomic_write(
        staging / "kbundle_boot.py", render_bootstrap(boot_info(request, installed, staging))
    )
    atomic_write(staging / "kbundle.json", lib_manifest(request, installed, sources))


def vendor_outcome(
    request: VendorRequest,
    fetched: Fetched,
    installed: Sequence[InstalledWheel],
    recovered: Sequence[str],
    seconds: float,
) -> VendorOutcome:
    """What the run did, for the report: packages, bytes on disk, notes, warnings."""
    notes = [*recovered, *fetched.notes]
    saved = sum(w.shared_bytes for w in installed)
    if saved:
        notes.append(f"{megabytes(saved)} of identical files hard-linked in the lib")
    packages = tuple(
        VendoredPackage(w.name, w.version, fetched.sources.get(w.name, "vendor"), w.bytes)
        for w in sorted(installed, key=lambda w: w.name)
    )
    return VendorOutcome(
        lib=request.lib,
        seconds=seconds,
        packages=packages,
        image=request.lock.image,
        notes=tuple(notes),
        warnings=fetched.warnings,
        # What the packages take on disk, each inode once (as `du -sb` counts).
        bytes=sum(w.bytes - w.shared_bytes for w in installed),
    )


def _disk_full(exc: OSError, request: VendorRequest) -> DiskFull:
    """Which file system filled up (kbundle's cache or the lib's), what it needed.

    A failed ``write()`` names no file; then the file system with less room
    left is the full one (when the cache and the lib share one, it is both).
    """
    cache, lib = cache_dir(), request.lib
    path = written_path(exc)
    shared = _device(cache) == _device(lib.parent)
    if path is not None:
        in_cache = path == cache or cache in path.parents
    else:
        in_cache = not shared and (free_bytes(cache) or 0) < (free_bytes(lib.parent) or 0)
    finder = Finder(request.index, HttpClient(offline=True))
    artifacts = [a for p in request.lock.vendored if (a := p.wheel or p.sdist) is not None]
    files = {a: finder.cached_file(artifact_link(a)) for a in artifacts}
    if in_cache:
        # What is still to come: the files not complete in the cache yet.
        missing = [a.size or 0 for a, f in files.items() if f is None]
        return disk_full(
            exc,
            what=f"kbundle's cache at {cache}",
            folder=cache,
            needed=sum(missing) or None,
            hint="The files already complete stay cached and a partial one is resumed next "
            "time. Free space there, or set KBUNDLE_CACHE_DIR to a folder on a file system "
            "with room.",
        )
    also = f" (which also holds kbundle's cache at {cache})" if shared else ""
    return disk_full(
        exc,
        what=f"the file system of the lib {lib}{also}",
        folder=lib.parent,
        needed=_unpacked_bytes([f for f in files.values() if f is not None]) or None,
        hint="The previous lib is unchanged. Free space there, or vendor into a folder "
        "on another file system (-t DIR).",
    )


def _device(folder: Path) -> int | None:
    for candidate in (folder, *folder.parents):
        try:
            return candidate.stat().st_dev
        except OSError:
            continue
    return None


def _unpacked_bytes(wheels: Sequence[Path]) -> int:
    """What the wheels take once unpacked (their zip members' sizes)."""
    total = 0
    for wheel in wheels:
        if not wheel.name.endswith(".whl"):
            continue
        try:
            with zipfile.ZipFile(wheel) as archive:
                total += sum(info.file_size for info in archive.infolist())
        except (OSError, zipfile.BadZipFile):
            continue
    return total
