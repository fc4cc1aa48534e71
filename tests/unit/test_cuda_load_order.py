"""The bootstrap's CUDA preload list: vendored NVIDIA libraries, dependencies first."""

from __future__ import annotations

from pathlib import Path

from bundler.vendor.lib_manifest import cuda_load_order
from tests.helpers.native import shared_library


def test_nvblas_is_never_preloaded(tmp_path: Path) -> None:
    """cuBLAS wheels ship NVBLAS beside cuBLAS; loading it globally would hijack BLAS."""
    libdir = tmp_path / "nvidia" / "cu13" / "lib"
    lt = shared_library(
        libdir, "libcublasLt.so.13", "int lt(void){return 1;}\n", soname="libcublasLt.so.13"
    )
    cublas = shared_library(
        libdir,
        "libcublas.so.13",
        "int lt(void);\nint cublas(void){return lt();}\n",
        soname="libcublas.so.13",
        link=[lt],
    )
    shared_library(
        libdir,
        "libnvblas.so.13",
        "int cublas(void);\nvoid dgemm_(void){cublas();}\n",
        link=[cublas],
    )
    assert cuda_load_order(tmp_path) == (
        "nvidia/cu13/lib/libcublasLt.so.13",
        "nvidia/cu13/lib/libcublas.so.13",
    )
