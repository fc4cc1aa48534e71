"""What a lib says about itself: ``kbundle.json`` and the data of ``kbundle_boot``.

Values from values: given the request and the wheels installed into a
staging lib, :func:`lib_manifest` is the JSON record that ``kbundle check``
and the next ``kbundle vendor`` read (:mod:`bundler.check.libscan`,
:mod:`.libdest`), and :func:`boot_info` the :class:`~.bootstrap.BootInfo`
that :mod:`.bootstrap` renders. The only file read is the ELF of the staged
NVIDIA libraries, for their load order (:func:`cuda_load_order`); writing the
files is :mod:`.run`'s step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from bundler import __version__
from bundler.vendor.bootstrap import BootInfo
from bundler.vendor.install import InstalledWheel
from bundler.vendor.offline_env import offline_env
from bundler.vendor.request import VendorRequest


def lib_manifest(
    request: VendorRequest, installed: Sequence[InstalledWheel], sources: Mapping[str, str]
) -> bytes:
    """``kbundle.json``: the target, the lock's requirements, every package and its source."""
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
        "shadowed": dict(sorted(_shadowed(request).items())),
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def boot_info(request: VendorRequest, installed: Sequence[InstalledWheel], lib: Path) -> BootInfo:
    """What ``kbundle_boot`` of the lib at ``lib`` (the staging folder) must know."""
    shadowed = _shadowed(request)
    return BootInfo(
        shadowed={
            w.name: (w.version, shadowed[w.name], top_level_modules(w))
            for w in installed
            if w.name in shadowed
        },
        cuda_libraries=cuda_load_order(lib),
        env=offline_env(p.name for p in request.lock.packages) if request.offline_env else {},
        fingerprint=request.target.fingerprint,
        kbundle_version=__version__,
    )


def _shadowed(request: VendorRequest) -> dict[str, str]:
    """Vendored name → the image's version it shadows."""
    return {p.name: p.shadows for p in request.lock.vendored if p.shadows}


def top_level_modules(wheel: InstalledWheel) -> tuple[str, ...]:
    """The import names a wheel's files provide (packages, modules, extensions)."""
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
    dependencies are already loaded (RTLD_GLOBAL) when it is opened; among
    libraries ready at the same time, by file name, so a lib is reproducible.
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
    return tuple(str(found[name].relative_to(lib)) for name in dependencies_first(needs))


def dependencies_first(graph: Mapping[str, set[str]]) -> list[str]:
    """``graph`` (name → the names it needs) in an order that loads each after its needs.

    Libraries that need each other (a cycle; none of NVIDIA's do today) have
    no such order: the edge that closes the cycle is dropped and the rest
    still ordered, as a loader would still load them all, just not each one
    after everything it needs.
    """
    needs = {name: set(deps) for name, deps in graph.items()}
    while True:
        sorter = TopologicalSorter(needs)
        try:
            sorter.prepare()
        except CycleError as exc:
            # args[1] is the cycle as a path, each name needed by the next one.
            cycle: list[str] = exc.args[1]
            needs[cycle[1]].discard(cycle[0])
            continue
        break
    ordered: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered += ready
        sorter.done(*ready)
    return ordered
