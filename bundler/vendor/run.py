"""``kbundle vendor`` as a library call: fetch, build, install, bootstrap, swap.

Everything is assembled in a staging folder beside the destination and only
then swapped into place (:mod:`bundler.vendor.libswap`), so an interrupted or failed
vendor leaves the previous lib as it was.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.utils import canonicalize_name

from bundler import __version__
from bundler.build.builder import build_wheel
from bundler.build.recipes import Host, Recipe, choose_recipe, detect_host
from bundler.cache import atomic_write, cache_dir
from bundler.errors import (
    DiskFull,
    InputError,
    disk_full,
    free_bytes,
    is_disk_full,
    written_path,
)
from bundler.index.finder import Finder
from bundler.index.simple_api import Link, make_link
from bundler.lock.model import Artifact, Lock, LockedPackage
from bundler.lock.run import LockRequest, run_lock
from bundler.net.client import HttpClient
from bundler.request.index_config import IndexConfig
from bundler.request.requirements_file import parse_requirement_arg
from bundler.target.cuda import runtime_requirements
from bundler.target.model import Target
from bundler.vendor.bootstrap import BootInfo, render_bootstrap
from bundler.vendor.install import InstalledWheel, install_wheels
from bundler.vendor.libdest import check_destination, lib_lock
from bundler.vendor.libswap import recover, staging_dir, swap_into_place
from bundler.vendor.offline_env import offline_env
from bundler.vendor.unpacked import UnpackedWheel, find_unpacked

log = logging.getLogger(__name__)

ProgressFactory = Callable[[Link], "Callable[[int, int | None], None] | None"]


@dataclass(frozen=True)
class VendorRequest:
    """What to vendor where; built by the CLI from options and configuration."""

    lock: Lock
    target: Target
    lib: Path
    index: IndexConfig
    build: frozenset[str] = frozenset()
    build_python: str | None = None
    cpu_only: bool = False
    offline: bool = False
    jobs: int | None = None
    #: Write the offline switches of the locked libraries into kbundle_boot.
    offline_env: bool = True
    #: Replace ``lib`` even when it is a non-empty folder kbundle did not write.
    force: bool = False


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


def _link(artifact: Artifact) -> Link:
    link = make_link(
        artifact.filename,
        artifact.url,
        hashes={"sha256": artifact.sha256} if artifact.sha256 else None,
        size=artifact.size,
    )
    if link is None:
        raise InputError(f"the lock names a file kbundle cannot read: {artifact.filename}")
    return link


def _fetch(
    finder: Finder,
    packages: Sequence[LockedPackage],
    downloads: Path,
    progress: ProgressFactory | None,
    *,
    unpacked: bool,
) -> tuple[dict[LockedPackage, Path | UnpackedWheel], dict[Path, str]]:
    """Each package's file: with ``unpacked``, its unpacked cache entry when
    there is one, else a download.

    A wheel already unpacked (found by the lock's sha256) is not fetched at
    all, not even from the download cache or a find-links folder. Also
    returns the lock's sha256 of each downloaded wheel, which keys its entry.
    """
    root = cache_dir()
    found: dict[LockedPackage, Path | UnpackedWheel] = {}
    for p in packages if unpacked else ():
        if p.wheel is not None and p.wheel.sha256:
            entry = find_unpacked(p.wheel.filename, p.wheel.sha256, root)
            if entry is not None:
                found[p] = entry
    links = {
        p: _link(artifact)
        for p in packages
        if p not in found and (artifact := p.wheel or p.sdist) is not None
    }
    paths = finder.download_all(list(links.values()), downloads, progress_factory=progress)
    hashes: dict[Path, str] = {}
    for p, link in links.items():
        found[p] = paths[link]
        if p.wheel is not None and p.wheel.sha256:
            hashes[paths[link]] = p.wheel.sha256
    return found, hashes


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


def _may_build(name: str, allowed: frozenset[str]) -> bool:
    return ":all:" in allowed or canonicalize_name(name) in allowed


def _build_all(
    request: VendorRequest,
    sdists: dict[LockedPackage, Path],
    warnings: list[str],
    notes: list[str],
) -> tuple[list[Path], list[str]]:
    """Build every sdist; returns the wheels and the extra requirements they need."""
    wheels: list[Path] = []
    extra: list[str] = []
    if not sdists:
        return wheels, extra
    refused = [p.name for p in sdists if not _may_build(p.name, request.build)]
    if refused:
        raise InputError(
            "the lock says " + ", ".join(refused) + " must be built from source, "
            "and building is not allowed",
            source="kbundle vendor",
            hint="Allow it with "
            + " ".join(f"--build {n}" for n in refused)
            + " (or [tool.kbundle] build).",
        )
    host = detect_host(request.build_python)
    for package, sdist in sorted(sdists.items(), key=lambda kv: kv[0].name):
        recipe = choose_recipe(package.name, request.target, host, cpu_only=request.cpu_only)
        warnings.extend(recipe.warnings)
        notes.extend(recipe.notes)
        assert package.sdist is not None
        assert package.sdist.sha256 is not None  # the lock file requires it
        wheels.append(
            build_wheel(
                sdist,
                recipe,
                request.target,
                host,
                sdist_sha256=package.sdist.sha256,
                jobs=request.jobs,
            )
        )
        extra.extend(_runtime_for(recipe, host))
    return wheels, extra


def _runtime_for(recipe: Recipe, host: Host) -> list[str]:
    if recipe.cuda_runtime_major is None or host.nvcc_cuda is None:
        return []
    return runtime_requirements(host.nvcc_cuda)


def _lock_extra(request: VendorRequest, requirements: Sequence[str]) -> list[LockedPackage]:
    """Resolve the CUDA runtime wheels a build needs (vendored beside it)."""
    reqs = [parse_requirement_arg(r, "CUDA runtime of a build") for r in requirements]
    outcome = run_lock(
        LockRequest(
            target=request.target, requirements=reqs, index=request.index, offline=request.offline
        )
    )
    return [p for p in outcome.lock.vendored if p.wheel is not None]


def _top_level_modules(wheel: InstalledWheel) -> tuple[str, ...]:
    names = set()
    for path in wheel.files:
        first = path.split("/", 1)[0]
        if first.endswith((".dist-info", ".data")) or first in ("bin", "include", "data"):
            continue
        if "/" in path:
            names.add(first)
        elif first.endswith(".py"):
            names.add(first[:-3])
        elif ".cpython-" in first or first.endswith(".so"):
            names.add(first.split(".", 1)[0])
    return tuple(sorted(names))


def cuda_load_order(lib: Path) -> tuple[str, ...]:
    """Vendored NVIDIA libraries (``nvidia/*/lib/*.so*``), dependencies first.

    Ordered by their ELF ``NEEDED`` entries so each library's own
    dependencies are already loaded (RTLD_GLOBAL) when it is opened.
    NVBLAS is left out: nothing links against it, and loaded globally its
    ``sgemm_``/``dgemm_`` would take over every later library's BLAS calls.
    """
    found: dict[str, Path] = {}
    for path in sorted(lib.glob("nvidia/*/lib/*.so*")):
        if path.is_file() and not path.is_symlink() and not path.name.startswith("libnvblas."):
            found[path.name] = path
    if not found:
        return ()
    from bundler.elf.reader import read_elf  # pyelftools only for a lib that needs it

    needs: dict[str, set[str]] = {}
    for name, path in found.items():
        info = read_elf(path)
        needs[name] = {n for n in (info.needed if info else ()) if n in found and n != name}
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered or name in visiting:
            return
        visiting.add(name)
        for dep in sorted(needs[name]):
            visit(dep)
        ordered.append(name)

    for name in sorted(found):
        visit(name)
    return tuple(str(found[n].relative_to(lib)) for n in ordered)


def _manifest(
    request: VendorRequest,
    installed: Sequence[InstalledWheel],
    sources: dict[str, str],
    shadowed: dict[str, str],
) -> bytes:
    doc = {
        "kbundle_version": __version__,
        "target": request.target.name,
        "fingerprint": request.target.fingerprint,
        "lock_fingerprint": request.lock.target_fingerprint,
        "requirements": list(request.lock.requirements),
        "packages": [
            {
                "name": w.name,
                "version": w.version,
                "source": sources.get(w.name, "vendor"),
                "wheel": w.wheel,
                "bytes": w.bytes,
            }
            for w in sorted(installed, key=lambda w: w.name)
        ],
        "image": {p.name: p.version for p in request.lock.image},
        "shadowed": dict(sorted(shadowed.items())),
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def fetch_and_build(
    request: VendorRequest,
    downloads: Path,
    progress: ProgressFactory | None,
    warnings: list[str],
    notes: list[str],
    *,
    unpacked: bool = True,
) -> tuple[list[Path | UnpackedWheel], list[Path], dict[str, str], dict[Path, str]]:
    """Fetch the lock's vendored files into ``downloads`` and build its sdists.

    Returns the wheels (with the CUDA runtime a build needs) — with
    ``unpacked``, a wheel already in the unpacked cache comes as that entry and
    is not fetched at all; without it every wheel is a file — the built
    wheels, each distribution's source (``vendor``/``build``) by canonical
    name, and the lock's sha256 of each downloaded wheel (which keys its
    unpacked entry); ``warnings`` and ``notes`` get what the user should read.
    """
    finder = Finder(request.index, HttpClient(offline=request.offline))
    packages = list(request.lock.vendored)
    fetched, hashes = _fetch(finder, packages, downloads, progress, unpacked=unpacked)
    wheels = [fetched[p] for p in packages if p.source == "vendor"]
    sdists = {p: f for p in packages if p.source == "build" and isinstance(f := fetched[p], Path)}
    built, extra_reqs = _build_all(request, sdists, warnings, notes)
    sources: dict[str, str] = {str(canonicalize_name(p.name)): p.source for p in packages}
    if extra_reqs:
        extra = [
            p for p in _lock_extra(request, extra_reqs) if canonicalize_name(p.name) not in sources
        ]
        extra_fetched, extra_hashes = _fetch(finder, extra, downloads, progress, unpacked=unpacked)
        wheels += [extra_fetched[p] for p in extra]
        hashes.update(extra_hashes)
        notes.append(
            "vendored the CUDA runtime the build needs: "
            + ", ".join(f"{p.name} {p.version}" for p in extra)
        )
        sources.update({str(canonicalize_name(p.name)): "vendor" for p in extra})
    return wheels, built, sources, hashes


def run_vendor(request: VendorRequest, progress: ProgressFactory | None = None) -> VendorOutcome:
    """Vendor ``request.lock`` into ``request.lib`` (see the module docstring).

    The lib must be missing, empty or a kbundle lib (unless ``force``), and
    one run at a time holds it (:mod:`bundler.vendor.libdest`). A full file system
    is a :class:`~bundler.errors.DiskFull` saying which one and what it needed.
    """
    lib = check_destination(request.lib, force=request.force)
    request = replace(request, lib=lib)
    cache_dir().mkdir(parents=True, exist_ok=True)
    with lib_lock(lib):
        try:
            return _vendor_locked(request, progress)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            raise _disk_full(exc, request) from exc


def _vendor_locked(request: VendorRequest, progress: ProgressFactory | None) -> VendorOutcome:
    started = time.perf_counter()
    notes = recover(request.lib)
    warnings: list[str] = []
    packages = list(request.lock.vendored)
    with tempfile.TemporaryDirectory(prefix="kbundle-fetch-", dir=cache_dir()) as tmp:
        wheels, built, sources, hashes = fetch_and_build(
            request, Path(tmp), progress, warnings, notes
        )
        staging = staging_dir(request.lib)
        try:
            installed = install_wheels([*wheels, *built], staging, hashes=hashes)
            saved = sum(w.shared_bytes for w in installed)
            # What the packages take on disk, each inode once (as `du -sb` counts).
            on_disk = sum(w.bytes - w.shared_bytes for w in installed)
            if saved:
                notes.append(f"{saved / 1e6:.1f} MB of identical files hard-linked in the lib")
            shadowed = {p.name: p.shadows for p in packages if p.shadows}
            boot = BootInfo(
                shadowed={
                    w.name: (w.version, shadowed[w.name], _top_level_modules(w))
                    for w in installed
                    if w.name in shadowed
                },
                cuda_libraries=cuda_load_order(staging),
                env=offline_env(p.name for p in request.lock.packages)
                if request.offline_env
                else {},
                fingerprint=request.target.fingerprint,
                kbundle_version=__version__,
            )
            atomic_write(staging / "kbundle_boot.py", render_bootstrap(boot))
            atomic_write(staging / "kbundle.json", _manifest(request, installed, sources, shadowed))
            swap_into_place(staging, request.lib)
        except BaseException:
            recover(request.lib)
            raise
    result = tuple(
        VendoredPackage(w.name, w.version, sources.get(w.name, "vendor"), w.bytes)
        for w in sorted(installed, key=lambda w: w.name)
    )
    return VendorOutcome(
        lib=request.lib,
        seconds=time.perf_counter() - started,
        packages=result,
        image=request.lock.image,
        notes=tuple(notes),
        warnings=tuple(warnings),
        bytes=on_disk,
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
    files = {a: finder.cached_file(_link(a)) for a in artifacts}
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
