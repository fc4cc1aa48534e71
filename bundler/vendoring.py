"""``kbundle vendor`` as a library call: fetch, build, install, bootstrap, swap.

Everything is assembled in a staging folder beside the destination and only
then swapped into place (:mod:`bundler.libswap`), so an interrupted or failed
vendor leaves the previous lib as it was.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from bundler import __version__
from bundler.bootstrap import BootInfo, render_bootstrap
from bundler.build import build_wheel
from bundler.cache import atomic_write, cache_dir
from bundler.cuda import runtime_requirements
from bundler.elf import read_elf
from bundler.errors import InputError
from bundler.http import HttpClient
from bundler.index import Finder, IndexConfig
from bundler.install import InstalledWheel, install_wheels, link_identical_files
from bundler.libswap import recover, staging_dir, swap_into_place
from bundler.lock_model import Artifact, Lock, LockedPackage
from bundler.locking import LockRequest, run_lock
from bundler.recipes import Host, Recipe, choose_recipe, detect_host
from bundler.requirements_file import parse_requirement_arg
from bundler.simple_api import Link, make_link
from bundler.target import Target

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


def run_vendor(request: VendorRequest, progress: ProgressFactory | None = None) -> VendorOutcome:
    """Vendor ``request.lock`` into ``request.lib`` (see the module docstring)."""
    started = time.perf_counter()
    notes = recover(request.lib)
    warnings: list[str] = []
    client = HttpClient(offline=request.offline)
    finder = Finder(request.index, client)
    packages = list(request.lock.vendored)
    with tempfile.TemporaryDirectory(prefix="kbundle-fetch-", dir=cache_dir()) as tmp:
        downloads = Path(tmp)
        links = {p: _link(p.wheel or p.sdist) for p in packages if p.wheel or p.sdist}  # type: ignore[arg-type]
        paths = finder.download_all(list(links.values()), downloads, progress_factory=progress)
        wheels = [paths[links[p]] for p in packages if p.source == "vendor"]
        sdists = {p: paths[links[p]] for p in packages if p.source == "build"}
        built, extra_reqs = _build_all(request, sdists, warnings, notes)
        sources: dict[str, str] = {str(canonicalize_name(p.name)): p.source for p in packages}
        if extra_reqs:
            extra = [
                p
                for p in _lock_extra(request, extra_reqs)
                if canonicalize_name(p.name) not in sources
            ]
            extra_links = {p: _link(p.wheel) for p in extra if p.wheel}
            extra_paths = finder.download_all(
                list(extra_links.values()), downloads, progress_factory=progress
            )
            wheels += [extra_paths[extra_links[p]] for p in extra]
            notes.append(
                "vendored the CUDA runtime the build needs: "
                + ", ".join(f"{p.name} {p.version}" for p in extra)
            )
            sources.update({str(canonicalize_name(p.name)): "vendor" for p in extra})
        staging = staging_dir(request.lib)
        try:
            installed = install_wheels([*wheels, *built], staging)
            saved = link_identical_files(staging)
            on_disk = _disk_bytes(staging)
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
                env={},
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


def _disk_bytes(root: Path) -> int:
    inodes: dict[int, int] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            st = path.stat()
            inodes[st.st_ino] = st.st_size
    return sum(inodes.values())
