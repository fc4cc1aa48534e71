"""CUDA conventions: variant labels, what a driver can run, which variant to prefer.

One module knows these rules; the resolver, vendor and check ask it.

* A build for CUDA X.y runs where the driver supports CUDA X.0 or newer
  (minor-version compatibility inside a major): 12.x needs a driver for
  12.0+, 13.x one for 13.0+. A major the driver cannot run is never chosen.
* Among runnable variants the one closest to, and not above, the image's
  CUDA runtime is preferred: it matches the toolkit libraries the image
  ships, so nothing more needs vendoring.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from bundler.target.model import Cuda

_LABEL = re.compile(r"^cu(\d+)$")


@dataclass(frozen=True, order=True)
class CudaVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> CudaVersion:
        """``"12.8"`` or ``"12"``."""
        major, _, minor = text.partition(".")
        return cls(int(major), int(minor.split(".")[0] or 0))

    @classmethod
    def from_label(cls, label: str) -> CudaVersion | None:
        """``cu121`` → 12.1, ``cu118`` → 11.8, ``cu130`` → 13.0; None for others."""
        match = _LABEL.match(label)
        if not match:
            return None
        digits = match.group(1)
        if len(digits) < 3:
            return None
        return cls(int(digits[:-1]), int(digits[-1]))

    @property
    def label(self) -> str:
        return f"cu{self.major}{self.minor}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def variant_of(version: Version) -> str | None:
    """The CUDA variant a local version label names: ``cu121``, ``cpu`` or None."""
    if version.local is None:
        return None
    first = version.local.split(".")[0]
    if first == "cpu" or CudaVersion.from_label(first) is not None:
        return first
    return None


def driver_can_run(build: CudaVersion, cuda: Cuda | None) -> bool:
    """True when the target's driver runs code built with CUDA ``build``.

    Unknown driver: assume the image runtime's major is what it runs.
    """
    if cuda is None:
        return False
    ceiling = cuda.driver_max or cuda.runtime
    if ceiling is None:
        return True
    return build.major <= CudaVersion.parse(ceiling).major


def variant_rank(variant: str | None, cuda: Cuda | None) -> tuple[int, int] | None:
    """Sort key (higher is better) for a CUDA variant on a target, or None to reject.

    Tiers, for a target with CUDA: a runnable variant at or below the image
    runtime (closest first) > no variant label > a runnable variant above the
    runtime (closest first) > ``cpu``. Without CUDA: ``cpu`` > no label >
    CUDA builds (they still work on CPU but carry GPU code for nothing).
    """
    if variant is None:
        return (2, 0)
    if variant == "cpu":
        return (3, 0) if cuda is None else (0, 0)
    build = CudaVersion.from_label(variant)
    if build is None:
        return (2, 0)
    if cuda is None:
        return (1, -build.major * 10 - build.minor)
    if not driver_can_run(build, cuda):
        return None
    runtime = CudaVersion.parse(cuda.runtime) if cuda.runtime else None
    code = build.major * 10 + build.minor
    if runtime is None or build <= runtime:
        return (4, code)
    return (1, -code)


def runtime_requirements(nvcc: CudaVersion) -> list[str]:
    """The PyPI wheels carrying the CUDA runtime and cuBLAS of ``nvcc``'s release.

    A llama.cpp CUDA build needs libcudart and libcublas/libcublasLt of the
    toolkit major it was compiled with. The minor is pinned to the compiler's:
    a newer minor would lean on minor-version compatibility the driver may
    not give PTX. NVIDIA names the CUDA 12 wheels ``*-cu12`` and drops the
    suffix from CUDA 13 on.
    """
    suffix = f"-cu{nvcc.major}" if nvcc.major <= 12 else ""
    pin = f"=={nvcc.major}.{nvcc.minor}.*"
    return [f"nvidia-cuda-runtime{suffix}{pin}", f"nvidia-cublas{suffix}{pin}"]


_VARIANT_LIBRARY = re.compile(r"_(?:(cuda)(\d{3,})|(rocm)\d*|(xpu)\d*|(cpu))(?:_[a-z0-9]+)*\.so")


def backend_of_library(filename: str) -> tuple[str, CudaVersion | None] | None:
    """The backend a per-backend variant library is built for, from its file name.

    Packages such as bitsandbytes ship one library per backend
    (``libbitsandbytes_cuda128.so``, ``…_cuda130.so``, ``…_rocm64.so``,
    ``…_xpu2025.so``, ``…_cpu.so``) and load the one matching the runtime at
    import time; the others are never loaded. Returns ``("cuda", 12.8)``,
    ``("rocm", None)``, ``("xpu", None)``, ``("cpu", None)``, or None for an
    ordinary library.
    """
    match = _VARIANT_LIBRARY.search(filename)
    if match is None:
        return None
    if match.group(1):
        return "cuda", CudaVersion.from_label(f"cu{match.group(2)}")
    return next(kind for kind in match.groups()[2:] if kind), None


def loaded_cuda_variant(torch_version: str | None, cuda: Cuda | None) -> CudaVersion | None:
    """The CUDA a per-CUDA variant library is picked for on the target.

    bitsandbytes and its kind follow ``torch.version.cuda``: the ``+cuXYZ``
    label of the torch in the final environment, or the CUDA PyPI builds a
    plain torch release with; without a torch, the target's CUDA runtime.
    """
    if torch_version is not None:
        try:
            label = implied_variant("torch", Version(torch_version))
        except InvalidVersion:
            label = None
        if label == "cpu":
            return None
        if label is not None:
            return CudaVersion.from_label(label)
    if cuda is not None and cuda.runtime is not None:
        return CudaVersion.parse(cuda.runtime)
    return None


#: Projects that publish one wheel index per CUDA variant; ``{cuda}`` is filled
#: with the target's tags (:func:`index_tags`). ``--cuda-index NAME`` pins NAME
#: to its index.
CUDA_INDEXES: Mapping[str, str] = {
    "llama-cpp-python": "https://abetlen.github.io/llama-cpp-python/whl/{cuda}",
    "torch": "https://download.pytorch.org/whl/{cuda}",
    "torchvision": "https://download.pytorch.org/whl/{cuda}",
    "torchaudio": "https://download.pytorch.org/whl/{cuda}",
}


def index_tags(cuda: Cuda | None) -> tuple[str, ...]:
    """The ``{cuda}`` values to try for a CUDA-variant index, best first.

    The image's runtime, then older minors of its major (closest first: they
    use the libraries the image ships), then newer builds the driver still
    runs (minor-version compatibility inside a major, newer majors up to the
    driver's). ``("cpu",)`` for a target without CUDA. Not every index has
    every variant — llama-cpp-python publishes a handful — so the first one
    that has the project wins.
    """
    if cuda is None or (cuda.runtime is None and cuda.driver_max is None):
        return ("cpu",)
    runtime = CudaVersion.parse(cuda.runtime or cuda.driver_max or "")
    ceiling = CudaVersion.parse(cuda.driver_max or cuda.runtime or "")
    tags = [CudaVersion(runtime.major, m) for m in range(runtime.minor, -1, -1)]
    for major in range(runtime.major, ceiling.major + 1):
        first = runtime.minor + 1 if major == runtime.major else 0
        tags += [CudaVersion(major, m) for m in range(first, 10)]
    return tuple(t.label for t in tags)


# The CUDA that PyPI's own (label-less) torch wheels for Linux x86_64 are built
# with, by torch release: 2.1-2.4 cu121, 2.5-2.6 cu124, 2.7 cu126,
# 2.8-2.10 cu128, 2.11 and later cu130.
_TORCH_PYPI_CUDA = (
    (2, 11, "cu130"),
    (2, 8, "cu128"),
    (2, 7, "cu126"),
    (2, 5, "cu124"),
    (2, 1, "cu121"),
)
_PROJECT_CUDA = re.compile(r"(?:^|-)cu(?:da)?(\d{2})x?(?:-|$)")


def pypi_torch_variant(version: Version) -> str | None:
    """The CUDA variant PyPI's plain ``torch==version`` is built for (None before 2.1)."""
    for major, minor, label in _TORCH_PYPI_CUDA:
        if version.release[:2] >= (major, minor):
            return label
    return None


def implied_variant(project: str, version: Version) -> str | None:
    """The CUDA variant of a release: its local label, or for PyPI's plain torch
    on Linux x86_64 the CUDA PyPI builds it with (torch 2.11 means CUDA 13)."""
    label = variant_of(version)
    if label is None and project == "torch":
        return pypi_torch_variant(version)
    return label


def project_cuda_major(project: str) -> int | None:
    """The CUDA major a project's name pins: ``nvidia-cublas-cu12`` → 12,
    ``cupy-cuda12x`` → 12, ``jax-cuda13-plugin`` → 13; None otherwise."""
    match = _PROJECT_CUDA.search(project)
    return int(match.group(1)) if match else None
