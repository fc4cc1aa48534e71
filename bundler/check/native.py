"""Native libraries in a lib, against what the target can load.

For every ELF file: each NEEDED soname must be found (in the lib, among the
image's libraries, or in the base system set every glibc image has); the
newest GLIBC_/GLIBCXX_/CXXABI_ symbol versions it needs must exist on the
target; CUDA libraries must be of a major the target's driver runs; CUDA
kernels must include code for the target's GPUs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bundler.check.findings import Finding
from bundler.check.system_libs import (
    BASE_SYSTEM_SONAMES,
    CUDA_DRIVER_SONAMES,
    cuda_major_of_soname,
    is_cuda_soname,
)
from bundler.elf.reader import ElfInfo, iter_elf_files, read_elf
from bundler.target.cuda import CudaVersion, backend_of_library, loaded_cuda_variant
from bundler.target.model import Target
from bundler.target.tags import parse_libc_version

# The libstdc++ of the distribution each glibc release shipped in (Ubuntu LTS,
# Debian, RHEL 8 and Amazon Linux 2023): the newest GLIBCXX_ and CXXABI_
# versions a target has. A conda environment can bring a newer libstdc++, so
# exceeding it is a warning.
_LIBSTDCXX = {
    (2, 28): ((3, 4, 25), (1, 3, 11)),  # RHEL/AlmaLinux 8 (manylinux_2_28), GCC 8
    (2, 31): ((3, 4, 28), (1, 3, 12)),  # Ubuntu 20.04, GCC 10
    (2, 34): ((3, 4, 29), (1, 3, 13)),  # Amazon Linux 2023, GCC 11
    (2, 35): ((3, 4, 30), (1, 3, 13)),  # Ubuntu 22.04, GCC 12
    (2, 36): ((3, 4, 30), (1, 3, 13)),  # Debian 12, GCC 12
    (2, 39): ((3, 4, 33), (1, 3, 15)),  # Ubuntu 24.04, GCC 14
}


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def check_native(lib: Path, target: Target) -> list[Finding]:
    """All native-library findings for the ELF files under ``lib``."""
    infos = [info for path in iter_elf_files(lib) if (info := read_elf(path)) is not None]
    in_lib = {Path(i.path).name for i in infos} | {i.soname for i in infos if i.soname}
    provided = set(target.provided_libraries) | BASE_SYSTEM_SONAMES
    if target.cuda is not None:
        provided |= CUDA_DRIVER_SONAMES
    findings: list[Finding] = []
    wanted = loaded_cuda_variant(_torch_version(lib, target), target.cuda)
    variants: dict[Path, list[tuple[str, CudaVersion | None]]] = {}
    for info in infos:
        where = str(Path(info.path).relative_to(lib))
        backend = backend_of_library(Path(info.path).name)
        if backend is not None:
            variants.setdefault(Path(info.path).parent, []).append(backend)
            if not _is_loaded_variant(backend, wanted, target):
                continue  # another backend's build: never loaded on this target
        findings += _needed(info, where, in_lib, provided, target)
        findings += _symbol_versions(info, where, target)
        findings += _gpu_archs(info, where, target)
    findings += _missing_variant(lib, variants, wanted, target)
    return findings


def _torch_version(lib: Path, target: Target) -> str | None:
    vendored = sorted(lib.glob("torch-*.dist-info"))
    if vendored:
        return vendored[0].name[len("torch-") : -len(".dist-info")]
    image = target.installed.get("torch")
    return image.version if image else None


def _is_loaded_variant(
    backend: tuple[str, CudaVersion | None], wanted: CudaVersion | None, target: Target
) -> bool:
    kind, version = backend
    if kind == "cpu":
        return target.cuda is None or wanted is None
    if kind == "cuda":
        return wanted is not None and version == wanted
    return False  # ROCm and XPU builds: kbundle targets NVIDIA GPUs


def _missing_variant(
    lib: Path,
    variants: dict[Path, list[tuple[str, CudaVersion | None]]],
    wanted: CudaVersion | None,
    target: Target,
) -> Iterable[Finding]:
    """A package with per-CUDA libraries must have the one the target loads."""
    if wanted is None or target.cuda is None:
        return
    for folder, backends in sorted(variants.items()):
        cudas = sorted(v for kind, v in backends if kind == "cuda" and v is not None)
        if cudas and wanted not in cudas:
            have = ", ".join(str(v) for v in cudas)
            yield Finding(
                "error",
                "cuda-variant",
                folder.name,
                str(folder.relative_to(lib)),
                f"ships libraries for CUDA {have} but the target loads the CUDA {wanted} one "
                "(from its torch), which is missing",
                f"Vendor a release of {folder.name} built for CUDA {wanted}, or set the "
                "package's override (for bitsandbytes: BNB_CUDA_VERSION) to one it has.",
            )


def _needed(
    info: ElfInfo, where: str, in_lib: set[str], provided: set[str], target: Target
) -> Iterable[Finding]:
    for soname in info.needed:
        major = cuda_major_of_soname(soname)
        if major is not None and target.cuda is not None:
            ceiling = target.cuda.driver_max or target.cuda.runtime
            if ceiling and major > CudaVersion.parse(ceiling).major:
                yield Finding(
                    "error",
                    "cuda",
                    None,
                    where,
                    f"needs {soname} (CUDA {major}), but the target's driver runs CUDA up to "
                    f"{ceiling}",
                    f"Use a build for CUDA {CudaVersion.parse(ceiling).major} (e.g. a cu12x "
                    "wheel index), or a target whose driver supports it.",
                )
        if major is not None and target.cuda is None:
            yield Finding(
                "error",
                "cuda",
                None,
                where,
                f"needs {soname}, but target {target.name} has no GPU/CUDA",
                "Vendor a CPU build of this package for this target.",
            )
            continue
        if soname in in_lib or soname in provided:
            continue
        yield Finding(
            "error",
            "needed",
            None,
            where,
            f"needs {soname}, which is neither in the lib nor provided by target {target.name}",
            f"Vendor the package that ships {soname}, or capture the image "
            "(`kbundle target capture`) if it does have it.",
        )


def _symbol_versions(info: ElfInfo, where: str, target: Target) -> Iterable[Finding]:
    if target.glibc is None:
        return
    glibc = parse_libc_version(target.glibc)
    need = info.max_version("GLIBC_")
    if need is not None and need[:2] > glibc:
        yield Finding(
            "error",
            "glibc",
            None,
            where,
            f"needs GLIBC_{_dotted(need)}, but target {target.name} has glibc {target.glibc}",
            "Use a wheel built for an older manylinux (manylinux_2_"
            f"{glibc[1]} or below), or build it on a system with glibc {target.glibc}.",
        )
    known = _LIBSTDCXX.get(glibc)
    if known is None:
        return
    for prefix, have in (("GLIBCXX_", known[0]), ("CXXABI_", known[1])):
        need = info.max_version(prefix)
        if need is not None and need > have:
            yield Finding(
                "warning",
                "glibcxx",
                None,
                where,
                f"needs {prefix}{_dotted(need)}; the system libstdc++ of a glibc "
                f"{target.glibc} image has {prefix}{_dotted(have)}",
                "Build with an older compiler (a manylinux image) unless the target's "
                "environment ships a newer libstdc++ (conda does).",
            )


def _arch_number(text: str) -> tuple[int, int]:
    digits = "".join(ch for ch in text.split("_", 1)[1] if ch.isdigit())
    return int(digits[:-1]), int(digits[-1])


def _gpu_archs(info: ElfInfo, where: str, target: Target) -> Iterable[Finding]:
    if not (info.cuda_sass_archs or info.cuda_ptx_archs) or target.cuda is None:
        return
    sass = [_arch_number(a) for a in info.cuda_sass_archs if a[-1].isdigit()]
    ptx = [_arch_number(a) for a in info.cuda_ptx_archs if a[-1].isdigit()]
    for arch in target.cuda.archs:
        major, minor = (int(x) for x in arch.split("."))
        # SASS runs on the same major at an equal or higher minor; PTX is
        # compiled by the driver for any newer GPU, if the driver is new enough.
        if any(m == major and n <= minor for m, n in sass):
            continue
        if any((m, n) <= (major, minor) for m, n in ptx):
            yield Finding(
                "warning",
                "gpu-arch",
                None,
                where,
                f"has no sm_{major}{minor} code for the target's GPU (compute {arch}); the "
                "driver must JIT-compile its PTX at start-up, which fails when the PTX comes "
                "from a newer CUDA than the driver",
                f"Build with CMAKE_CUDA_ARCHITECTURES including {major}{minor}.",
            )
            continue
        have = ", ".join([*info.cuda_sass_archs, *info.cuda_ptx_archs])
        yield Finding(
            "error",
            "gpu-arch",
            None,
            where,
            f"has GPU code for {have} only; the target's GPU (compute {arch}) can run none of it",
            f"Build with CMAKE_CUDA_ARCHITECTURES including {major}{minor}.",
        )


@dataclass(frozen=True)
class CudaLibrary:
    """A CUDA library the lib ships or needs, and where the target gets it.

    ``where`` is ``lib`` (``path`` relative to the lib), ``image`` (its
    loader cache has the soname), ``driver`` (``libcuda.so.1`` and
    ``libnvidia-ml.so.1`` come with the GPU driver) or ``missing``.
    ``needed_by`` are the lib's files that NEED it (relative paths).
    """

    soname: str
    where: str
    path: str | None
    needed_by: tuple[str, ...]


def cuda_libraries(lib: Path, target: Target) -> list[CudaLibrary]:
    """Every CUDA library of ``lib``'s loaded variants and where it is found, by soname."""
    infos = [info for path in iter_elf_files(lib) if (info := read_elf(path)) is not None]
    wanted = loaded_cuda_variant(_torch_version(lib, target), target.cuda)
    shipped: dict[str, str] = {}
    needed: dict[str, list[str]] = {}
    for info in infos:
        rel = str(Path(info.path).relative_to(lib))
        for name in (Path(info.path).name, info.soname):
            if name and is_cuda_soname(name):
                shipped.setdefault(name, rel)
        backend = backend_of_library(Path(info.path).name)
        if backend is not None and not _is_loaded_variant(backend, wanted, target):
            continue  # another backend's build: its needs never matter on this target
        for soname in info.needed:
            if is_cuda_soname(soname):
                needed.setdefault(soname, []).append(rel)
    found = []
    for soname in sorted(set(shipped) | set(needed)):
        if soname in shipped:
            where, path = "lib", shipped[soname]
        elif soname in CUDA_DRIVER_SONAMES:
            where, path = ("driver" if target.cuda is not None else "missing"), None
        elif soname in target.provided_libraries:
            where, path = "image", None
        else:
            where, path = "missing", None
        found.append(CudaLibrary(soname, where, path, tuple(sorted(needed.get(soname, ())))))
    return found
