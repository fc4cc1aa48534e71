"""check_native: the ELF files of a lib against what the target can load.

The ELF reader has its own tests (test_elf.py); here each file of the lib is a
placeholder with the ELF magic, and what the reader would say about it is
given as an :class:`ElfInfo` value, so every rule is checked on exact inputs
without a compiler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from bundler.check import native
from bundler.check.findings import Finding
from bundler.elf.reader import ElfInfo
from bundler.target.model import Cuda, Target
from tests.helpers.targets import make_target

T4 = Cuda("12.4", "12.4", ("7.5",))
NEEDED_REMEDY = (
    "Vendor the package that ships {0}, or capture the image (`kbundle target capture`) "
    "if it does have it."
)


def _info(
    needed: tuple[str, ...] = (),
    *,
    versions: Mapping[str, tuple[str, ...]] | None = None,
    sass: tuple[str, ...] = (),
    ptx: tuple[str, ...] = (),
    soname: str | None = None,
) -> ElfInfo:
    return ElfInfo(
        path="",
        soname=soname,
        needed=needed,
        rpath=(),
        machine="x86_64",
        elf_class=64,
        version_requirements=versions or {},
        cuda_sass_archs=sass,
        cuda_ptx_archs=ptx,
    )


@pytest.fixture
def lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, ElfInfo]:
    """Files to put in ``tmp_path/lib``: relative path -> what the reader says."""
    files: dict[str, ElfInfo] = {}

    def read_elf(path: Path) -> ElfInfo:
        info = files[str(path.relative_to(tmp_path / "lib"))]
        return replace(info, path=str(path))

    monkeypatch.setattr(native, "read_elf", read_elf)
    return files


def _check(tmp_path: Path, files: dict[str, ElfInfo], target: Target) -> list[Finding]:
    root = tmp_path / "lib"
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"\x7fELF placeholder")
    return native.check_native(root, target)


def test_a_needed_library_nobody_provides(tmp_path: Path, lib: dict[str, ElfInfo]) -> None:
    lib["pkg/_ext.so"] = _info(("libc.so.6", "libbar.so.2", "libimg.so.3", "libfoo.so.1"))
    lib["pkg/libbar.so.2"] = _info(soname="libbar.so.2")
    target = make_target(provided_libraries=("libimg.so.3",))
    assert _check(tmp_path, lib, target) == [
        Finding(
            "error",
            "needed",
            None,
            "pkg/_ext.so",
            "needs libfoo.so.1, which is neither in the lib nor provided by target unit",
            NEEDED_REMEDY.format("libfoo.so.1"),
        )
    ]


def test_a_library_found_by_its_soname_in_the_lib(tmp_path: Path, lib: dict[str, ElfInfo]) -> None:
    lib["pkg/_ext.so"] = _info(("libbar.so.2",))
    lib["pkg/libbar-1234.so"] = _info(soname="libbar.so.2")  # as auditwheel renames it
    assert _check(tmp_path, lib, make_target()) == []


def test_cuda_on_a_target_without_a_gpu(tmp_path: Path, lib: dict[str, ElfInfo]) -> None:
    lib["pkg/_cuda.so"] = _info(("libcudart.so.12",))
    assert _check(tmp_path, lib, make_target()) == [
        Finding(
            "error",
            "cuda",
            None,
            "pkg/_cuda.so",
            "needs libcudart.so.12, but target unit has no GPU/CUDA",
            "Vendor a CPU build of this package for this target.",
        )
    ]


def test_a_cuda_major_above_the_driver(tmp_path: Path, lib: dict[str, ElfInfo]) -> None:
    lib["pkg/_cuda.so"] = _info(("libcudart.so.13", "libcuda.so.1"))
    assert _check(tmp_path, lib, make_target(cuda=T4)) == [
        Finding(
            "error",
            "cuda",
            None,
            "pkg/_cuda.so",
            "needs libcudart.so.13 (CUDA 13), but the target's driver runs CUDA up to 12.4",
            "Use a build for CUDA 12 (e.g. a cu12x wheel index), or a target whose driver "
            "supports it.",
        ),
        Finding(
            "error",
            "needed",
            None,
            "pkg/_cuda.so",
            "needs libcudart.so.13, which is neither in the lib nor provided by target unit",
            NEEDED_REMEDY.format("libcudart.so.13"),
        ),
    ]


def test_a_glibc_symbol_newer_than_the_target_s(tmp_path: Path, lib: dict[str, ElfInfo]) -> None:
    lib["_ext.so"] = _info(versions={"libc.so.6": ("GLIBC_2.2.5", "GLIBC_2.38", "GLIBC_PRIVATE")})
    assert _check(tmp_path, lib, make_target()) == [
        Finding(
            "error",
            "glibc",
            None,
            "_ext.so",
            "needs GLIBC_2.38, but target unit has glibc 2.35",
            "Use a wheel built for an older manylinux (manylinux_2_35 or below), or build it "
            "on a system with glibc 2.35.",
        )
    ]


def test_a_newer_libstdcxx_is_a_warning(tmp_path: Path, lib: dict[str, ElfInfo]) -> None:
    lib["_ext.so"] = _info(versions={"libstdc++.so.6": ("GLIBCXX_3.4.32", "CXXABI_1.3.13")})
    assert _check(tmp_path, lib, make_target()) == [
        Finding(
            "warning",
            "glibcxx",
            None,
            "_ext.so",
            "needs GLIBCXX_3.4.32; the system libstdc++ of a glibc 2.35 image has GLIBCXX_3.4.30",
            "Build with an older compiler (a manylinux image) unless the target's environment "
            "ships a newer libstdc++ (conda does).",
        )
    ]


def test_symbol_versions_the_target_has_are_fine(tmp_path: Path, lib: dict[str, ElfInfo]) -> None:
    lib["_ext.so"] = _info(
        versions={"libc.so.6": ("GLIBC_2.35",), "libstdc++.so.6": ("GLIBCXX_3.4.30",)}
    )
    assert _check(tmp_path, lib, make_target()) == []
    assert _check(tmp_path, lib, make_target(glibc=None)) == []  # unknown glibc: no claim


@pytest.mark.parametrize(
    ("sass", "ptx", "expected"),
    [
        (("sm_70",), (), None),  # same major, lower minor: runs
        (("sm_75", "sm_86"), (), None),
        ((), ("compute_70",), "warning"),  # the driver JIT-compiles the PTX
        (("sm_80",), (), "error"),
        (("sm_86",), ("compute_80",), "error"),  # PTX for a newer GPU only
    ],
)
def test_gpu_code_for_the_target_s_gpu(
    tmp_path: Path,
    lib: dict[str, ElfInfo],
    sass: tuple[str, ...],
    ptx: tuple[str, ...],
    expected: str | None,
) -> None:
    lib["_kernels.so"] = _info(sass=sass, ptx=ptx)
    findings = _check(tmp_path, lib, make_target(cuda=T4))
    assert [(f.severity, f.kind) for f in findings] == (
        [(expected, "gpu-arch")] if expected else []
    )
    for f in findings:
        assert f.remedy == "Build with CMAKE_CUDA_ARCHITECTURES including 75."
    if expected == "error":
        have = ", ".join([*sass, *ptx])
        assert findings[0].detail == (
            f"has GPU code for {have} only; the target's GPU (compute 7.5) can run none of it"
        )


def test_gpu_code_is_not_checked_without_a_gpu(tmp_path: Path, lib: dict[str, ElfInfo]) -> None:
    lib["_kernels.so"] = _info(sass=("sm_90",))
    assert _check(tmp_path, lib, make_target()) == []
