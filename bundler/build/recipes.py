"""How to build a package from its sdist for a target, on this machine.

A :class:`Recipe` is the policy half of a source build: the environment the
build backend sees, a stable key for the build cache, the CUDA runtime the
built wheel will need, and what the user should be told. :func:`choose_recipe`
is pure; :func:`detect_host` is the one function here that looks at the
machine (the build interpreter and ``nvcc``).

Most packages get the ``generic`` recipe: no special environment, built by the
host Python, which must then be the target's Python X.Y because the wheel may
be tied to that ABI. ``llama-cpp-python`` gets its own recipe because its
CMake flags decide whether the wheel uses the GPU, and because its wheel (a
ctypes binding) does not depend on the Python ABI.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from bundler.errors import InputError, KbundleError
from bundler.target.capture import run_probe, target_from_facts
from bundler.target.cuda import CudaVersion, driver_can_run
from bundler.target.model import Target

log = logging.getLogger(__name__)

LLAMA_CPP_PYTHON = "llama-cpp-python"
GENERIC_KEY = "generic"

_NVCC_RELEASE = re.compile(r"release (\d+)\.(\d+)")
_NVCC_TIMEOUT = 60

# The oldest GPU architecture (compute capability x10) each nvcc major still
# compiles for: CUDA 12.0 dropped Kepler (sm_35/37), CUDA 13.0 dropped
# Maxwell, Pascal and Volta (sm_50-sm_72). Asking nvcc for a dropped arch
# fails minutes into a build, so the recipe leaves such archs out up front.
_OLDEST_ARCH = {11: 35, 12: 50, 13: 75}


@dataclass(frozen=True)
class Host:
    """The machine and interpreter that run a source build.

    ``python`` is the interpreter path that runs the build frontend,
    ``python_version`` its X.Y, ``arch`` its platform machine in the target's
    spelling (``x86_64``), ``nvcc_cuda`` the CUDA release of the ``nvcc`` a
    CMake build would find (None: no nvcc), ``glibc`` the C library the built
    binaries link against (None: unknown or not glibc).
    """

    arch: str
    python_version: tuple[int, int]
    python: str
    nvcc_cuda: CudaVersion | None
    glibc: str | None = None


@dataclass(frozen=True)
class Recipe:
    """How to build one package for one target on one host.

    ``env`` is laid over the process environment for the build; ``key``
    names the recipe in cache keys and logs (``"generic"``,
    ``"llama-cpp-python:cuda13.0:sm75"``); ``cuda_runtime_major`` is the CUDA
    major whose runtime libraries the built wheel needs *beyond what the image
    provides* (the vendor step then vendors nvidia-cuda-runtime/cublas of that
    major and the bootstrap preloads them), None when nothing extra is needed;
    ``needs_python_abi`` says the wheel may be tied to the build
    interpreter's ABI. ``warnings`` are things the user should act on,
    ``notes`` things they should know.
    """

    name: str
    env: Mapping[str, str] = field(hash=False)
    key: str
    cuda_runtime_major: int | None
    warnings: tuple[str, ...]
    needs_python_abi: bool
    notes: tuple[str, ...] = ()


def detect_host(python: str | None = None) -> Host:
    """Describe this machine as a build host, building with ``python``.

    ``python`` is the ``--build-python`` path or command name; None means the
    interpreter running kbundle. Runs that interpreter once (for its version,
    architecture and glibc) and ``nvcc --version``.
    """
    path = _interpreter_path(python)
    try:
        facts = target_from_facts(run_probe(path, full=False), name="build-host")
    except KbundleError as exc:
        raise InputError(
            f"cannot build with {path}: {exc.message}", source="--build-python"
        ) from exc
    return Host(
        arch=facts.arch,
        python_version=facts.python_version,
        python=path,
        nvcc_cuda=_nvcc_version(),
        glibc=facts.glibc,
    )


def parse_nvcc_version(text: str) -> CudaVersion | None:
    """The CUDA release in ``nvcc --version`` output (``release 13.0, V13.0.88``)."""
    match = _NVCC_RELEASE.search(text)
    return CudaVersion(int(match.group(1)), int(match.group(2))) if match else None


def choose_recipe(name: str, target: Target, host: Host, *, cpu_only: bool = False) -> Recipe:
    """The recipe for building ``name`` for ``target`` on ``host``.

    Raises :class:`InputError` when ``host`` has another CPU architecture
    than ``target`` and :class:`KbundleError` when it has another Python X.Y
    for a wheel that may be tied to the Python ABI. ``cpu_only`` forces a CPU build of packages that
    could use CUDA.
    """
    if host.arch != target.arch:
        # Wheels of any architecture can be locked and installed from here (they
        # are only unpacked), but a build runs a compiler for this machine's CPU.
        raise InputError(
            f"cannot build {name} for {target.name}: it runs on {target.arch} and this "
            f"machine (build Python {host.python}) is {host.arch}, and kbundle does not "
            "cross-compile",
            hint=f"Run `kbundle vendor` on an {target.arch} machine (the target itself, or a "
            f"container of its image), and copy the lib from there; or lock a version of {name} "
            f"that has a wheel for {target.arch}.",
        )
    if canonicalize_name(name) == LLAMA_CPP_PYTHON:
        return _llama_recipe(target, host, cpu_only=cpu_only)
    _require_target_python(name, target, host)
    return Recipe(
        name=name,
        env={},
        key=GENERIC_KEY,
        cuda_runtime_major=None,
        warnings=(),
        needs_python_abi=True,
    )


def _interpreter_path(python: str | None) -> str:
    if python is None:
        return sys.executable
    found = shutil.which(python)
    if found is None:
        raise InputError(
            f"no Python interpreter at {python}",
            source="--build-python",
            hint="Give the path (or command name) of a Python whose X.Y is the target's.",
        )
    return str(Path(found).absolute())


def _nvcc_version() -> CudaVersion | None:
    # CMake's CUDA support honours $CUDACXX before searching PATH for nvcc;
    # look where the build will look, so the recipe matches what it compiles.
    nvcc = os.environ.get("CUDACXX") or shutil.which("nvcc")
    if nvcc is None:
        return None
    try:
        proc = subprocess.run(
            [nvcc, "--version"], capture_output=True, text=True, timeout=_NVCC_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("could not run %s: %s", nvcc, exc)
        return None
    return parse_nvcc_version(proc.stdout)


def _require_target_python(name: str, target: Target, host: Host) -> None:
    if host.python_version == target.python_version:
        return
    want = "{}.{}".format(*target.python_version)
    have = "{}.{}".format(*host.python_version)
    raise KbundleError(
        f"cannot build {name} for {target.name}: its wheel may be tied to the Python ABI, "
        f"the target runs Python {want} and the build Python ({host.python}) is {have}",
        hint=f"Rerun with `--build-python PATH` pointing at a Python {want} "
        "(a pyenv or other install), or run this command in a notebook on the target image.",
    )


def _llama_recipe(target: Target, host: Host, *, cpu_only: bool) -> Recipe:
    """CMake flags for llama.cpp that follow the target's GPU and driver."""
    # GGML_NATIVE=off in every case: "native" compiles for the instruction
    # set of *this* CPU (AVX-512, AMX, ...), which the target's CPU may lack,
    # and the library would die with SIGILL there. Without it ggml targets a
    # portable x86-64 baseline (AVX2/FMA/F16C), which Kaggle's Xeons have.
    portable = "-DGGML_NATIVE=off"
    glibc = _glibc_warnings(target, host)
    plan = _CpuBuild(reason=None) if cpu_only else _cuda_plan(target, host)
    if isinstance(plan, _CpuBuild):
        return Recipe(
            name=LLAMA_CPP_PYTHON,
            env={"CMAKE_ARGS": f"-DGGML_CUDA=off {portable}"},
            key=f"{LLAMA_CPP_PYTHON}:cpu",
            cuda_runtime_major=None,
            warnings=(*((plan.reason,) if plan.reason else ()), *glibc),
            needs_python_abi=False,
        )
    archs = _cmake_architectures(plan.archs)
    return Recipe(
        name=LLAMA_CPP_PYTHON,
        env={"CMAKE_ARGS": f"-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES={archs} {portable}"},
        key=f"{LLAMA_CPP_PYTHON}:cuda{plan.nvcc}:" + "-".join(f"sm{a}" for a in plan.archs),
        cuda_runtime_major=plan.vendored_major,
        warnings=(*plan.warnings, *glibc),
        needs_python_abi=False,
        notes=plan.notes,
    )


@dataclass(frozen=True)
class _CudaBuild:
    nvcc: CudaVersion
    archs: tuple[int, ...]
    vendored_major: int | None
    warnings: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _CpuBuild:
    reason: str | None  # a warning for the user; None when a CPU build is the obvious choice


def _cuda_plan(target: Target, host: Host) -> _CudaBuild | _CpuBuild:
    """A CUDA build when the target has a GPU and this machine can build for it."""
    cuda, nvcc = target.cuda, host.nvcc_cuda
    if cuda is None:
        return _CpuBuild(reason=None)
    prefix = "building llama-cpp-python without CUDA: "
    if nvcc is None:
        return _CpuBuild(
            prefix + "no nvcc on this machine (install the CUDA toolkit, "
            "put nvcc on PATH or set CUDACXX)"
        )
    if not cuda.archs:
        return _CpuBuild(
            prefix + f"the GPU compute capability of {target.name} is unknown "
            "(add `archs` to its [cuda] table)"
        )
    usable, dropped = _compilable_archs(cuda.archs, nvcc)
    if not usable:
        return _CpuBuild(
            prefix + f"nvcc {nvcc} cannot compile for the target's GPU "
            f"(compute capability {', '.join(cuda.archs)})"
        )
    runtime = CudaVersion.parse(cuda.runtime) if cuda.runtime else None
    if runtime is not None and runtime.major == nvcc.major:
        return _CudaBuild(nvcc, usable, None, dropped, _newer_minor_notes(nvcc, runtime))
    # A build with another CUDA major is still right when the driver runs it:
    # the image's own runtime libraries then go unused, and the vendor step
    # ships the runtime and cuBLAS of nvcc's major (the bootstrap preloads
    # them). This is the 2026 Kaggle image with nvcc 13: runtime 12.8, driver 13.0.
    if driver_can_run(nvcc, cuda):
        note = (
            f"llama-cpp-python is built with CUDA {nvcc} while {target.name} ships the "
            f"CUDA {cuda.runtime or 'unknown'} runtime; its driver runs CUDA "
            f"{cuda.driver_max or 'unknown'}, so the bundle carries the CUDA {nvcc.major} "
            "runtime and cuBLAS libraries"
        )
        return _CudaBuild(nvcc, usable, nvcc.major, dropped, (note,))
    ceiling = CudaVersion.parse(cuda.driver_max or cuda.runtime or "0")
    wanted = runtime.major if runtime else ceiling.major
    # An unknown driver is only trusted with the image runtime's own major.
    driver = (
        f"{target.name}'s driver runs CUDA up to {ceiling}"
        if cuda.driver_max
        else f"{target.name}'s driver is unknown, so only its runtime's CUDA {ceiling.major} "
        "is assumed to run"
    )
    return _CpuBuild(
        prefix + f"{driver}, and this machine's nvcc is CUDA {nvcc} (for a GPU build, put the "
        f"nvcc of a CUDA {wanted}.x toolkit first on PATH or set CUDACXX)"
    )


def _cmake_architectures(archs: tuple[int, ...]) -> str:
    """CMAKE_CUDA_ARCHITECTURES for ``archs``: SASS for each, PTX for the newest.

    SASS (``-real``) is the machine code each listed GPU runs as is; the PTX
    of the newest arch (``-virtual``) is what the driver JIT-compiles for GPUs
    newer than any listed (a T4 build still runs on an L4). A bare ``75``
    means both to CMake too; spelling it out keeps the fatbin's contents
    explicit, and PTX for the older archs would only add size.
    """
    ordered = sorted(set(archs))
    return ";".join([*(f"{arch}-real" for arch in ordered), f"{ordered[-1]}-virtual"])


def _compilable_archs(
    archs: tuple[str, ...], nvcc: CudaVersion
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The archs ``nvcc`` can compile for (as CMake numbers), and a warning per other one."""
    oldest = max((arch for major, arch in _OLDEST_ARCH.items() if major <= nvcc.major), default=0)
    usable = tuple(_arch_number(arch) for arch in archs if _arch_number(arch) >= oldest)
    dropped = tuple(
        f"nvcc {nvcc} cannot compile for compute capability {arch}; the build leaves it out"
        for arch in archs
        if _arch_number(arch) < oldest
    )
    return usable, dropped


def _newer_minor_notes(nvcc: CudaVersion, runtime: CudaVersion) -> tuple[str, ...]:
    if nvcc <= runtime:
        return ()
    return (
        f"llama-cpp-python is built with CUDA {nvcc} against the image's CUDA {runtime} "
        "runtime; a library from a newer minor release usually loads, but "
        "`kbundle check` is the proof",
    )


def _glibc_warnings(target: Target, host: Host) -> tuple[str, ...]:
    """Warn when binaries built here may need glibc symbols the target lacks."""
    if target.libc != "glibc" or target.glibc is None or host.glibc is None:
        return ()
    if _version_tuple(host.glibc) <= _version_tuple(target.glibc):
        return ()
    return (
        f"this machine has glibc {host.glibc}, the target {target.glibc}: the built "
        "library may need newer glibc symbols (pthread_* since 2.34, say); `kbundle check` "
        "flags any, and then the fix is building on the target image or an older distribution",
    )


def _arch_number(arch: str) -> int:
    """``"7.5"`` → 75, the spelling of CMAKE_CUDA_ARCHITECTURES and nvcc's ``sm_75``."""
    major, _, minor = arch.partition(".")
    return int(major) * 10 + int(minor or 0)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())
