"""Which sonames the target's system provides, and what a CUDA soname implies.

Policy, not parsing: :mod:`bundler.elf.reader` says what a library NEEDS;
this module says which of those names every glibc image has anyway, which the
NVIDIA driver brings, and which are CUDA toolkit libraries (and, for some of
them, the CUDA major they pin). :mod:`bundler.check.native` is its user.

Why here and not in ``target/cuda.py`` with the other CUDA conventions: only
the check decides anything from sonames (vendor orders the CUDA libraries by
their NEEDED entries alone), and these sets are the check's judgement of what
an image has, not facts of the image. Should vendor ever need the CUDA major
of a soname, move :func:`cuda_soname_major` and :func:`cuda_major_of_soname`
to ``target/cuda.py`` rather than import the check from vendor.
"""

from __future__ import annotations

import re

# glibc's and GCC's runtime libraries: every glibc-based image has them (apt
# and dnf themselves link libstdc++, so even slim images carry it), and a
# manylinux wheel may link against them.
_GLIBC_AND_GCC = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "librt.so.1",
        "libpthread.so.0",
        "libutil.so.1",
        "libresolv.so.2",
        "libnsl.so.1",
        "libanl.so.1",
        "libgcc_s.so.1",
        "libstdc++.so.6",
    }
)

# The libraries a manylinux wheel may link against without bundling them:
# ``lib_whitelist`` of the manylinux_2_17 (manylinux2014) policy in auditwheel,
# https://github.com/pypa/auditwheel/blob/main/src/auditwheel/policy/manylinux-policy.json
# PEP 600 leaves the list of perennial manylinux tags to that file (auditwheel
# is the reference implementation); it is PEP 599's list plus libatomic,
# libanl, libexpat and libz, added since. Kept as the reference that
# BASE_SYSTEM_SONAMES is drawn from (its unit test holds the two together).
MANYLINUX_ALLOWED_SONAMES: frozenset[str] = _GLIBC_AND_GCC | {
    "libatomic.so.1",
    "libz.so.1",
    "libexpat.so.1",
    "libX11.so.6",
    "libXext.so.6",
    "libXrender.so.1",
    "libICE.so.6",
    "libSM.so.6",
    "libGL.so.1",
    "libgobject-2.0.so.0",
    "libgthread-2.0.so.0",
    "libglib-2.0.so.0",
}

# The program interpreters (dynamic loaders) of the manylinux architectures.
# Libraries that call into ld.so itself (``_dl_find_object``, TLS helpers)
# list it as NEEDED; it ships with glibc. The policy file leaves it out
# because auditwheel never treats the interpreter as a dependency.
_LOADER_SONAMES = frozenset(
    {
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "ld-linux.so.2",
        "ld64.so.2",
        "ld64.so.1",
        "ld-linux-armhf.so.3",
        "ld-linux-riscv64-lp64d.so.1",
    }
)

# What every glibc-based image provides: the glibc and GCC runtime entries of
# the manylinux list, glibc's libmvec, and the loaders. The graphics, GLib,
# expat, zlib and libatomic entries are allowed by the policy but live in
# separate distribution packages that slim containers lack: the classic
# "libGL.so.1: cannot open shared object file" of opencv-python in Docker.
# For those, look in the target's own library list instead.
BASE_SYSTEM_SONAMES: frozenset[str] = _GLIBC_AND_GCC | {"libmvec.so.1"} | _LOADER_SONAMES

# Provided by the host's NVIDIA driver (mounted into GPU containers by the
# NVIDIA container runtime), never by a wheel or the CUDA toolkit: a library
# that needs them loads only on a machine with a driver.
CUDA_DRIVER_SONAMES: frozenset[str] = frozenset({"libcuda.so.1", "libnvidia-ml.so.1"})

# NVIDIA's CUDA libraries as they appear in NEEDED: ``lib<name>.so.<major>``,
# sometimes with a minor (``libcudart.so.11.0``, ``libnvrtc.so.11.2``,
# ``libnvrtc-builtins.so.12.8``). The development symlinks without a number
# (``libcudart.so``) never appear in NEEDED and do not match.
CUDA_SONAME_PATTERN = re.compile(
    r"^lib(?P<name>cudart|cublasLt|cublas|cufftw|cufft|curand|cusolverMg|cusolver"
    r"|cusparseLt|cusparse|nvrtc-builtins|nvrtc|nvJitLink|nvjpeg|npp[a-z]*|nvToolsExt"
    r"|cupti|cufile|cudnn(?:_[a-z_]+)?|nccl)"
    r"\.so\.(?P<major>\d+)(?:\.\d+)*$"
)

# Libraries whose soname major *is* the CUDA major they were built with
# (libcudart.so.12 ⇔ CUDA 12.x; nvJitLink exists since CUDA 12). The others
# version independently and say nothing about the CUDA major: cuFFT 11 ships
# with CUDA 12 and cuFFT 12 with 13, cuRAND stayed at 10 from CUDA 11 to 12,
# cuSOLVER 11 spans CUDA 11 and 12, cuDNN 9 and NCCL 2 exist for several CUDA
# majors. For those, ask the wheel's metadata (nvidia-*-cu12) instead.
CUDA_MAJOR_INDICATIVE: frozenset[str] = frozenset(
    {"cudart", "cublas", "cublasLt", "nvrtc", "nvrtc-builtins", "nvJitLink"}
)


def cuda_soname_major(soname: str) -> tuple[str, int] | None:
    """``"libcublasLt.so.12"`` → ``("cublasLt", 12)``; None for a non-CUDA soname.

    The number is the library's own soname major; use :func:`cuda_major_of_soname`
    for the CUDA major it implies.
    """
    match = CUDA_SONAME_PATTERN.match(soname)
    if match is None:
        return None
    return match["name"], int(match["major"])


def cuda_major_of_soname(soname: str) -> int | None:
    """The CUDA major a soname pins (``"libcudart.so.12"`` → 12), or None.

    None both for non-CUDA sonames and for CUDA libraries whose major is not
    the CUDA major (see :data:`CUDA_MAJOR_INDICATIVE`).
    """
    parsed = cuda_soname_major(soname)
    if parsed is None or parsed[0] not in CUDA_MAJOR_INDICATIVE:
        return None
    return parsed[1]


def is_cuda_soname(soname: str) -> bool:
    """A CUDA toolkit library or one the driver brings (``libcuda.so.1``)."""
    return cuda_soname_major(soname) is not None or soname in CUDA_DRIVER_SONAMES
