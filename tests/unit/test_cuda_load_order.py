"""The bootstrap's CUDA preload list: vendored NVIDIA libraries, dependencies first.

The order is graphlib's topological order of the NEEDED entries, libraries
ready together sorted by name: :func:`dependencies_first` on plain graphs,
:func:`cuda_load_order` on libraries gcc builds.
"""

from __future__ import annotations

from pathlib import Path

from bundler.vendor.lib_manifest import cuda_load_order, dependencies_first
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


def test_each_library_comes_after_what_it_needs_and_ties_go_by_name() -> None:
    needs = {
        "libcublas.so.13": {"libcublasLt.so.13", "libcudart.so.13"},
        "libcublasLt.so.13": {"libcudart.so.13"},
        "libcudart.so.13": set(),
        "libcufft.so.12": set(),
        "libcusolver.so.12": {"libcublas.so.13", "libcufft.so.12"},
    }
    assert dependencies_first(needs) == [
        "libcudart.so.13",
        "libcufft.so.12",
        "libcublasLt.so.13",
        "libcublas.so.13",
        "libcusolver.so.12",
    ]


def test_libraries_that_need_each_other_are_still_all_loaded() -> None:
    needs = {"liba.so": {"libb.so"}, "libb.so": {"liba.so"}, "libc.so": {"liba.so"}}
    graph = {name: set(deps) for name, deps in needs.items()}

    order = dependencies_first(graph)

    assert sorted(order) == ["liba.so", "libb.so", "libc.so"]
    assert order.index("liba.so") < order.index("libc.so")  # outside the cycle, kept
    assert graph == needs  # the caller's graph is not changed


def test_no_nvidia_libraries_is_an_empty_order(tmp_path: Path) -> None:
    (tmp_path / "nvidia" / "cu13" / "lib").mkdir(parents=True)
    assert cuda_load_order(tmp_path) == ()


def test_libraries_of_several_packages_in_dependency_order(tmp_path: Path) -> None:
    # cuSPARSE needs nvJitLink from another wheel: the name order would be wrong.
    jit = shared_library(
        tmp_path / "nvidia" / "nvjitlink" / "lib",
        "libnvJitLink.so.12",
        "int jit(void){return 1;}\n",
        soname="libnvJitLink.so.12",
    )
    shared_library(
        tmp_path / "nvidia" / "cusparse" / "lib",
        "libcusparse.so.12",
        "int jit(void);\nint sparse(void){return jit();}\n",
        soname="libcusparse.so.12",
        link=[jit],
    )
    assert cuda_load_order(tmp_path) == (
        "nvidia/nvjitlink/lib/libnvJitLink.so.12",
        "nvidia/cusparse/lib/libcusparse.so.12",
    )
