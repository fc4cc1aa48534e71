"""The lock's files on local disk: downloaded (or found unpacked) and sdists built.

:func:`fetch_and_build` is the first step of both outputs of ``kbundle
vendor``: the lib (:mod:`.run`) and the wheelhouse (:mod:`.wheelhouse`). It
fetches through :class:`~bundler.index.finder.Finder`, builds through
:mod:`bundler.build`, and locks the CUDA runtime a CUDA build needs; it
writes nothing but the download folder it is given and kbundle's caches.
Installing, the bootstrap and the swap are not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from bundler.cache import cache_dir
from bundler.errors import InputError
from bundler.index.finder import Finder
from bundler.index.simple_api import Link, make_link
from bundler.lock.model import Artifact, LockedPackage
from bundler.lock.run import run_lock
from bundler.net.client import HttpClient
from bundler.request.model import LockRequest
from bundler.request.requirements_file import parse_requirement_arg
from bundler.target.cuda import runtime_requirements
from bundler.vendor.request import ProgressFactory, VendorRequest
from bundler.vendor.unpacked import UnpackedWheel, find_unpacked

if TYPE_CHECKING:
    from bundler.build.recipes import Host, Recipe


@dataclass(frozen=True)
class Fetched:
    """The files of a lock, ready to install.

    ``wheels`` are the vendored wheels (with the CUDA runtime a build needs)
    in lock order: an unpacked cache entry where one was found, else the
    downloaded file. ``built`` are the wheels built from sdists. ``sources``
    maps each canonical name to ``vendor`` or ``build``; ``hashes`` the
    lock's sha256 of each downloaded wheel (which keys its unpacked entry).
    ``notes`` and ``warnings`` are for the user.
    """

    wheels: tuple[Path | UnpackedWheel, ...]
    built: tuple[Path, ...]
    sources: Mapping[str, str]
    hashes: Mapping[Path, str]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Builds:
    wheels: tuple[Path, ...]
    #: Requirements the built wheels need at run time (a CUDA build's runtime).
    runtime: tuple[str, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]


def artifact_link(artifact: Artifact) -> Link:
    """The index link of a locked file (an InputError for a name kbundle cannot read)."""
    link = make_link(
        artifact.filename,
        artifact.url,
        hashes={"sha256": artifact.sha256} if artifact.sha256 else None,
        size=artifact.size,
    )
    if link is None:
        raise InputError(f"the lock names a file kbundle cannot read: {artifact.filename}")
    return link


def fetch_and_build(
    request: VendorRequest,
    downloads: Path,
    progress: ProgressFactory | None = None,
    *,
    client: HttpClient | None = None,
    unpacked: bool = True,
) -> Fetched:
    """Fetch the lock's vendored files into ``downloads`` and build its sdists.

    Every reason a build cannot run (not allowed, another CPU architecture or
    Python, a missing ``--build-python``) is raised before the first request:
    a refusal must not cost the download of a 76 MB sdist. With ``unpacked``,
    a wheel already in the unpacked cache comes as that entry and is not
    fetched at all; without it every wheel is a file (the wheelhouse wants
    files). ``client`` defaults to an :class:`HttpClient` honouring
    ``request.offline``.
    """
    packages = list(request.lock.vendored)
    plan = _plan_builds(request, [p for p in packages if p.source == "build"])
    finder = Finder(request.index, client or HttpClient(offline=request.offline))
    fetched, hashes = _fetch(finder, packages, downloads, progress, unpacked=unpacked)
    wheels = [fetched[p] for p in packages if p.source == "vendor"]
    builds = _build_all(request, plan, fetched)
    notes = list(builds.notes)
    sources = {str(canonicalize_name(p.name)): p.source for p in packages}
    if builds.runtime:
        locked = _lock_runtime(request, builds.runtime, client)
        extra = [p for p in locked if canonicalize_name(p.name) not in sources]
        extra_fetched, extra_hashes = _fetch(finder, extra, downloads, progress, unpacked=unpacked)
        wheels += [extra_fetched[p] for p in extra]
        hashes.update(extra_hashes)
        notes.append(
            "vendored the CUDA runtime the build needs: "
            + ", ".join(f"{p.name} {p.version}" for p in extra)
        )
        sources.update({str(canonicalize_name(p.name)): "vendor" for p in extra})
    return Fetched(tuple(wheels), builds.wheels, sources, hashes, tuple(notes), builds.warnings)


def _fetch(
    finder: Finder,
    packages: Sequence[LockedPackage],
    downloads: Path,
    progress: ProgressFactory | None,
    *,
    unpacked: bool,
) -> tuple[dict[LockedPackage, Path | UnpackedWheel], dict[Path, str]]:
    """Each package's file, and the lock's sha256 of each downloaded wheel.

    With ``unpacked``, a wheel already unpacked (found by the lock's sha256)
    is not fetched at all, not even from the download cache or a find-links
    folder.
    """
    root = cache_dir()
    found: dict[LockedPackage, Path | UnpackedWheel] = {}
    for p in packages if unpacked else ():
        if p.wheel is not None and p.wheel.sha256:
            entry = find_unpacked(p.wheel.filename, p.wheel.sha256, root)
            if entry is not None:
                found[p] = entry
    links = {
        p: artifact_link(artifact)
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


def _may_build(name: str, allowed: frozenset[str]) -> bool:
    return ":all:" in allowed or canonicalize_name(name) in allowed


@dataclass(frozen=True)
class _BuildPlan:
    """The build host and each sdist's recipe, in name order."""

    host: Host
    recipes: tuple[tuple[LockedPackage, Recipe], ...]


def _plan_builds(request: VendorRequest, sdists: Sequence[LockedPackage]) -> _BuildPlan | None:
    """Settle how each sdist will be built, or why it cannot be, before any
    request (None: nothing to build)."""
    if not sdists:
        return None
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
    # The build stage (recipes, the probe, the builder) loads only when a lock
    # has sdists: a vendor of wheels alone never pays for it.
    from bundler.build.recipes import choose_recipe, detect_host

    host = detect_host(request.build_python)
    recipes = tuple(
        (p, choose_recipe(p.name, request.target, host, cpu_only=request.cpu_only))
        for p in sorted(sdists, key=lambda p: p.name)
    )
    return _BuildPlan(host, recipes)


def _build_all(
    request: VendorRequest,
    plan: _BuildPlan | None,
    fetched: Mapping[LockedPackage, Path | UnpackedWheel],
) -> _Builds:
    """Build every planned sdist from its fetched file, in name order."""
    if plan is None:
        return _Builds((), (), (), ())
    from bundler.build.builder import build_wheel

    wheels: list[Path] = []
    runtime: list[str] = []
    notes: list[str] = []
    warnings: list[str] = []
    for package, recipe in plan.recipes:
        sdist = fetched[package]
        assert isinstance(sdist, Path)  # only wheels come unpacked
        assert package.sdist is not None
        assert package.sdist.sha256 is not None  # the lock file requires it
        warnings.extend(recipe.warnings)
        notes.extend(recipe.notes)
        wheels.append(
            build_wheel(
                sdist,
                recipe,
                request.target,
                plan.host,
                sdist_sha256=package.sdist.sha256,
                jobs=request.jobs,
            )
        )
        runtime.extend(_runtime_for(recipe, plan.host))
    return _Builds(tuple(wheels), tuple(runtime), tuple(notes), tuple(warnings))


def _runtime_for(recipe: Recipe, host: Host) -> list[str]:
    if recipe.cuda_runtime_major is None or host.nvcc_cuda is None:
        return []
    return runtime_requirements(host.nvcc_cuda)


def _lock_runtime(
    request: VendorRequest, requirements: Sequence[str], client: HttpClient | None
) -> list[LockedPackage]:
    """Resolve the CUDA runtime wheels a build needs (vendored beside it), over
    the same client as the fetch."""
    reqs = [parse_requirement_arg(r, "CUDA runtime of a build") for r in requirements]
    outcome = run_lock(
        LockRequest(
            target=request.target, requirements=reqs, index=request.index, offline=request.offline
        ),
        client=client,
    )
    return [p for p in outcome.lock.vendored if p.wheel is not None]
