"""bundler.elf.reader on real ELF files that gcc, g++ and nvcc build in the test's directory."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from bundler.elf.fatbin import parse_fatbin
from bundler.elf.reader import ElfInfo, iter_elf_files, read_elf
from tests.helpers.native import cuda_library, require_nvcc, shared_library

C_LIB = "int answer(void) { return 42; }\n"

KERNEL = """
__global__ void twice(float *x) { x[threadIdx.x] *= 2.0f; }
void launch(float *x) { twice<<<1, 32>>>(x); }
"""


def host_glibc() -> tuple[int, int]:
    name, version = platform.libc_ver()
    if name != "glibc":
        pytest.skip(f"the host C library is {name or 'unknown'}, not glibc")
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def info(requirements: dict[str, tuple[str, ...]] | None = None, **fields: object) -> ElfInfo:
    values: dict[str, object] = {
        "path": "lib.so",
        "soname": None,
        "needed": (),
        "rpath": (),
        "machine": "x86_64",
        "elf_class": 64,
        "version_requirements": requirements or {},
    }
    values.update(fields)
    return ElfInfo(**values)  # type: ignore[arg-type]


# --- NEEDED, SONAME, RPATH ---------------------------------------------------


@pytest.mark.parametrize("dtags", ["--enable-new-dtags", "--disable-new-dtags"])
def test_soname_needed_and_rpath(tmp_path: Path, dtags: str) -> None:
    # RUNPATH (new dtags, the default on Debian) and the older RPATH both land
    # in ``rpath``, with $ORIGIN unexpanded.
    cudart = shared_library(tmp_path / "lib", "libcudart.so.12", C_LIB, soname="libcudart.so.12")
    user = shared_library(
        tmp_path / "pkg",
        "libuser.so",
        "int answer(void);\nint twice(void) { return 2 * answer(); }\n",
        link=[cudart],
        rpath=["$ORIGIN/../lib"],
        extra=[f"-Wl,{dtags}"],
    )

    lib = read_elf(cudart)
    assert lib is not None
    assert lib.soname == "libcudart.so.12"
    assert lib.path == str(cudart)
    assert lib.cuda_sass_archs == lib.cuda_ptx_archs == ()

    consumer = read_elf(user)
    assert consumer is not None
    assert consumer.soname is None
    assert "libcudart.so.12" in consumer.needed
    assert consumer.rpath == ("$ORIGIN/../lib",)
    assert consumer.elf_class == 64
    assert consumer.machine == platform.machine()


def test_recent_glibc_symbol_version(tmp_path: Path) -> None:
    if host_glibc() < (2, 32):
        pytest.skip("__libc_single_threaded needs glibc 2.32 on the build host")
    lib = shared_library(
        tmp_path,
        "libst.so",
        "#include <sys/single_threaded.h>\nint single(void) { return __libc_single_threaded; }\n",
    )

    result = read_elf(lib)

    assert result is not None
    assert "GLIBC_2.32" in result.version_requirements["libc.so.6"]
    version = result.max_version("GLIBC_")
    assert version is not None
    assert version >= (2, 32)
    assert result.max_version("GLIBCXX_") is None


def test_dt_relr_marker_counts_as_glibc_2_36(tmp_path: Path) -> None:
    # A linker packing relative relocations makes the library need
    # GLIBC_ABI_DT_RELR: no numbers in the name, yet loadable only on 2.36+.
    if host_glibc() < (2, 36):
        pytest.skip("DT_RELR needs glibc 2.36 on the build host")
    lib = shared_library(
        tmp_path,
        "librelr.so",
        "#include <stdio.h>\nstatic int a, b;\nint *table[] = {&a, &b, &a};\n"
        'int get(int i) { printf("%d", i); return *table[i]; }\n',
        extra=["-Wl,-z,pack-relative-relocs"],
    )

    result = read_elf(lib)

    assert result is not None
    if "GLIBC_ABI_DT_RELR" not in result.version_requirements.get("libc.so.6", ()):
        pytest.skip("this linker did not emit DT_RELR")
    version = result.max_version("GLIBC_")
    assert version is not None
    assert version >= (2, 36)


def test_cxx_library_requirements(tmp_path: Path) -> None:
    lib = shared_library(
        tmp_path,
        "libgreet.so",
        "#include <stdexcept>\n#include <string>\n"
        "std::string greet(const std::string &name) {\n"
        '    if (name.empty()) throw std::invalid_argument("empty name");\n'
        '    return "hello " + name;\n}\n',
        cplusplus=True,
    )

    result = read_elf(lib)

    assert result is not None
    assert "libstdc++.so.6" in result.needed
    names = result.version_requirements["libstdc++.so.6"]
    assert any(name.startswith("GLIBCXX_") for name in names)
    assert any(name.startswith("CXXABI_") for name in names)
    glibcxx = result.max_version("GLIBCXX_")
    assert glibcxx is not None
    assert glibcxx >= (3, 4, 21)  # std::__cxx11::basic_string, the C++11 string ABI
    cxxabi = result.max_version("CXXABI_")
    assert cxxabi is not None
    assert cxxabi >= (1, 3)


# --- version arithmetic ------------------------------------------------------


def test_max_version_compares_numbers_not_strings() -> None:
    result = info(
        {
            "libc.so.6": ("GLIBC_2.9", "GLIBC_2.17", "GLIBC_2.2.5", "GLIBC_PRIVATE"),
            "libm.so.6": ("GLIBC_2.10",),
            "libstdc++.so.6": ("GLIBCXX_3.4.9", "GLIBCXX_3.4.30", "CXXABI_1.3.13"),
        }
    )
    assert result.max_version("GLIBC_") == (2, 17)
    assert result.max_version("GLIBCXX_") == (3, 4, 30)
    assert result.max_version("CXXABI_") == (1, 3, 13)
    assert result.max_version("GCC_") is None
    assert info().max_version("GLIBC_") is None


def test_glibc_private_alone_gives_none() -> None:
    assert info({"libc.so.6": ("GLIBC_PRIVATE",)}).max_version("GLIBC_") is None


def test_info_is_hashable_and_comparable() -> None:
    first = info({"libc.so.6": ("GLIBC_2.17",)})
    second = info({"libc.so.6": ("GLIBC_2.17",)})
    assert first == second
    assert hash(first) == hash(second)
    assert first != info({"libc.so.6": ("GLIBC_2.34",)})


# --- not ELF, broken ELF -----------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"\x7fEL", b"import os\n", b"/* GNU ld script */\nGROUP ( libc.so.6 )\n"],
    ids=["empty", "short", "python", "linker-script"],
)
def test_non_elf_is_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    assert read_elf(path) is None


@pytest.mark.parametrize("keep", [5, 64, 200, 0.5], ids=["ident", "header", "200b", "half"])
def test_truncated_elf_is_none(
    tmp_path: Path, keep: float, caplog: pytest.LogCaptureFixture
) -> None:
    whole = shared_library(tmp_path, "libwhole.so", C_LIB, soname="libwhole.so").read_bytes()
    cut = int(len(whole) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "libcut.so"
    path.write_bytes(whole[:cut])

    with caplog.at_level(logging.WARNING, logger="bundler.elf.reader"):
        assert read_elf(path) is None
    assert "cannot be read" in caplog.text


def test_garbage_after_magic_is_none(tmp_path: Path) -> None:
    path = tmp_path / "libjunk.so"
    path.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    assert read_elf(path) is None


# --- finding ELF files -------------------------------------------------------


def test_iter_elf_files_skips_links_and_non_elf(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    pkg = root / "pkg"
    lib = shared_library(pkg, "_native.so", C_LIB)
    (pkg / "_native.c").unlink()
    (pkg / "__init__.py").write_text("from ._native import *\n")
    (pkg / "libfoo.so").write_text("/* GNU ld script */\nINPUT ( libfoo.so.1 )\n")
    (pkg / "_native.so.1").symlink_to("_native.so")
    (root / "bin").mkdir()
    shutil.copy(lib, root / "bin" / "tool")
    (root / "linked").symlink_to(pkg, target_is_directory=True)
    (root / "README.txt").write_text("hello\n")
    os.mkfifo(root / "fifo")  # would block a reader that opened it

    found = list(iter_elf_files(root))

    assert found == [root / "bin" / "tool", pkg / "_native.so"]


# --- CUDA fatbin: nvcc output -------------------------------------------------


@pytest.fixture(scope="module")
def cuda_lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """libk.so with sm_75 SASS and compute_86 PTX, linked to the shared cudart."""
    _, (major, _) = require_nvcc()
    lib = cuda_library(
        tmp_path_factory.mktemp("cuda"),
        "libk.so",
        KERNEL,
        ["arch=compute_75,code=sm_75", "arch=compute_86,code=compute_86"],
        extra=["-cudart", "shared"],
    )
    return lib, major


def test_nvcc_library_archs(cuda_lib: tuple[Path, int]) -> None:
    lib, nvcc_major = cuda_lib

    result = read_elf(lib)

    assert result is not None
    assert result.cuda_sass_archs == ("sm_75",)
    assert "compute_86" in result.cuda_ptx_archs
    assert result.fatbin_error is None
    cudart = [name for name in result.needed if name.startswith("libcudart.so.")]
    assert cudart == [f"libcudart.so.{nvcc_major}"]


def fatbin_section(path: Path, name: str = ".nv_fatbin") -> tuple[int, int]:
    with path.open("rb") as stream:
        section = ELFFile(stream).get_section_by_name(name)
        assert section is not None
        return section["sh_offset"], section["sh_size"]


def test_corrupt_fatbin_in_library(
    cuda_lib: tuple[Path, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lib, _ = cuda_lib
    data = bytearray(lib.read_bytes())
    offset, _ = fatbin_section(lib)
    struct.pack_into("<Q", data, offset + 8, 1 << 40)  # container claims a terabyte
    broken = tmp_path / "libbroken.so"
    broken.write_bytes(data)

    with caplog.at_level(logging.WARNING, logger="bundler.elf.reader"):
        result = read_elf(broken)

    assert result is not None
    assert result.cuda_sass_archs == result.cuda_ptx_archs == ()
    assert result.fatbin_error is not None
    assert ".nv_fatbin" in result.fatbin_error
    assert str(broken) in caplog.text
    intact = read_elf(lib)
    assert intact is not None
    assert result.needed == intact.needed  # the rest of the file is still read


def test_nvcc_compressed_and_arch_specific(tmp_path: Path) -> None:
    _, release = require_nvcc()
    if release < (12, 9):
        pytest.skip("family-specific targets (compute_100f) need CUDA 12.9")
    lib = cuda_library(
        tmp_path,
        "libz.so",
        KERNEL,
        ["arch=compute_90a,code=sm_90a", "arch=compute_100f,code=compute_100f"],
        extra=["-Xfatbin", "-compress-all"],
    )

    result = read_elf(lib)

    assert result is not None
    assert result.cuda_sass_archs == ("sm_90a",)
    assert result.cuda_ptx_archs == ("compute_100f",)
    offset, size = fatbin_section(lib)
    entries = parse_fatbin(lib.read_bytes(), offset, offset + size)
    assert entries
    assert all(entry.compressed for entry in entries)


def test_relocatable_device_code(tmp_path: Path) -> None:
    # With -rdc the PTX stays in __nv_relfatbin for a later device link; the
    # loadable .nv_fatbin of the linked library has only the linked SASS.
    gencode = ["arch=compute_75,code=[sm_75,compute_75]"]
    lib = cuda_library(tmp_path, "librdc.so", KERNEL, gencode, extra=["-rdc=true"])
    obj = cuda_library(tmp_path, "rdc.o", KERNEL, gencode, extra=["-rdc=true", "-c"])

    linked = read_elf(lib)
    relocatable = read_elf(obj)

    assert linked is not None
    assert (linked.cuda_sass_archs, linked.cuda_ptx_archs) == (("sm_75",), ())
    assert relocatable is not None
    assert (relocatable.cuda_sass_archs, relocatable.cuda_ptx_archs) == (
        ("sm_75",),
        ("compute_75",),
    )
