"""bundler.check.system_libs: the sonames an image provides and what CUDA sonames imply."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bundler.check.system_libs import (
    BASE_SYSTEM_SONAMES,
    CUDA_DRIVER_SONAMES,
    MANYLINUX_ALLOWED_SONAMES,
    cuda_major_of_soname,
    cuda_soname_major,
    is_cuda_soname,
)
from bundler.elf.reader import read_elf

# --- system and CUDA sonames -------------------------------------------------


@pytest.mark.parametrize(
    ("soname", "parsed", "cuda_major"),
    [
        ("libcudart.so.12", ("cudart", 12), 12),
        ("libcudart.so.11.0", ("cudart", 11), 11),
        ("libcublas.so.13", ("cublas", 13), 13),
        ("libcublasLt.so.12", ("cublasLt", 12), 12),
        ("libnvrtc.so.12", ("nvrtc", 12), 12),
        ("libnvrtc-builtins.so.12.8", ("nvrtc-builtins", 12), 12),
        ("libnvJitLink.so.13", ("nvJitLink", 13), 13),
        ("libcufft.so.11", ("cufft", 11), None),
        ("libcurand.so.10", ("curand", 10), None),
        ("libcusolver.so.11", ("cusolver", 11), None),
        ("libcusparse.so.12", ("cusparse", 12), None),
        ("libcudnn.so.9", ("cudnn", 9), None),
        ("libcudnn_ops.so.9", ("cudnn_ops", 9), None),
        ("libnccl.so.2", ("nccl", 2), None),
        ("libcudart.so", None, None),
        ("libcuda.so.1", None, None),
        ("libc.so.6", None, None),
        ("libcudartx.so.12", None, None),
    ],
)
def test_cuda_sonames(soname: str, parsed: tuple[str, int] | None, cuda_major: int | None) -> None:
    assert cuda_soname_major(soname) == parsed
    assert cuda_major_of_soname(soname) == cuda_major


@pytest.mark.parametrize(
    ("soname", "cuda"),
    [
        ("libcudart.so.12", True),
        ("libcufft.so.11", True),
        ("libcuda.so.1", True),
        ("libnvidia-ml.so.1", True),
        ("libcudart.so", False),
        ("libc.so.6", False),
        ("libGL.so.1", False),
    ],
)
def test_is_cuda_soname(soname: str, cuda: bool) -> None:
    # The toolkit's libraries and the driver's: what `kbundle check` lists as CUDA.
    assert is_cuda_soname(soname) is cuda


def test_system_soname_sets() -> None:
    assert {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1"} <= BASE_SYSTEM_SONAMES
    assert {"ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"} <= BASE_SYSTEM_SONAMES
    # Allowed for manylinux wheels, yet absent from slim containers.
    assert "libGL.so.1" in MANYLINUX_ALLOWED_SONAMES
    assert "libGL.so.1" not in BASE_SYSTEM_SONAMES
    assert "libz.so.1" not in BASE_SYSTEM_SONAMES
    # Everything in the base set except the loaders and libmvec is on the
    # manylinux list: the base set is a subset of policy, not an extension.
    extras = {name for name in BASE_SYSTEM_SONAMES if name.startswith("ld")} | {"libmvec.so.1"}
    assert BASE_SYSTEM_SONAMES - extras <= MANYLINUX_ALLOWED_SONAMES
    assert not CUDA_DRIVER_SONAMES & BASE_SYSTEM_SONAMES


# --- a real NVIDIA wheel ------------------------------------------------------


@pytest.mark.network
def test_nvidia_cuda_runtime_wheel(tmp_path: Path) -> None:
    """The real cudart pins CUDA 12 and needs nothing beyond the base system."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--platform", "manylinux2014_x86_64", "--python-version", "3.12",
         "--dest", str(tmp_path), "nvidia-cuda-runtime-cu12"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("nvidia_cuda_runtime_cu12-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith("/libcudart.so.12")]
        library = tmp_path / "libcudart.so.12"
        library.write_bytes(archive.read(member))
    result = read_elf(library)

    assert result is not None
    assert result.soname == "libcudart.so.12"
    assert cuda_major_of_soname(result.soname) == 12
    assert result.machine == "x86_64"
    assert "libc.so.6" in result.version_requirements
    glibc = result.max_version("GLIBC_")
    assert glibc is not None
    assert glibc >= (2, 2)
    assert set(result.needed) <= BASE_SYSTEM_SONAMES
