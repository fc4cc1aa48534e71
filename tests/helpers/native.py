"""Compile real native fixtures (shared libraries, CUDA objects) in a test's directory.

Each helper writes its source next to its output and runs the compiler the
way a build would. A missing compiler skips the test with the reason; a
compiler error fails it with the compiler's output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

_CUDA_NVCC = Path("/usr/local/cuda/bin/nvcc")


def require_tool(name: str) -> str:
    """The path of ``name`` on PATH, or skip the test."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def find_nvcc() -> str | None:
    """nvcc on PATH, else the default CUDA toolkit location, else None."""
    found = shutil.which("nvcc")
    if found is not None:
        return found
    return str(_CUDA_NVCC) if _CUDA_NVCC.exists() else None


def require_nvcc() -> tuple[str, tuple[int, int]]:
    """nvcc's path and its CUDA release as (major, minor), or skip the test."""
    nvcc = find_nvcc()
    if nvcc is None:
        pytest.skip("nvcc is not installed (looked on PATH and in /usr/local/cuda/bin)")
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"release (\d+)\.(\d+)", out)
    if match is None:
        pytest.skip(f"cannot tell the CUDA release of {nvcc}: {out!r}")
    return nvcc, (int(match[1]), int(match[2]))


def run_compiler(args: Sequence[str | Path], cwd: Path) -> None:
    """Run a compiler command; fail the test with its output if it fails."""
    proc = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )


def shared_library(
    directory: Path,
    name: str,
    source: str,
    *,
    cplusplus: bool = False,
    soname: str | None = None,
    link: Iterable[Path] = (),
    rpath: Iterable[str] = (),
    extra: Iterable[str] = (),
) -> Path:
    """Build ``directory/name`` from C (or C++) ``source`` with gcc/g++ -shared.

    ``link`` are libraries to link against by path (each becomes NEEDED under
    its soname); ``rpath`` entries are passed to the linker verbatim, so
    ``$ORIGIN`` stays literal (no shell is involved).
    """
    compiler = require_tool("g++" if cplusplus else "gcc")
    directory.mkdir(parents=True, exist_ok=True)
    src = directory / (Path(name).stem.split(".")[0] + (".cpp" if cplusplus else ".c"))
    src.write_text(source)
    out = directory / name
    args: list[str | Path] = [compiler, "-shared", "-fPIC", "-O1", "-o", out, src]
    if soname is not None:
        args.append(f"-Wl,-soname,{soname}")
    args += [f"-Wl,-rpath,{entry}" for entry in rpath]
    args += list(link)
    args += list(extra)
    run_compiler(args, directory)
    return out


def cuda_library(
    directory: Path,
    name: str,
    source: str,
    gencode: Iterable[str],
    *,
    extra: Iterable[str] = (),
) -> Path:
    """Build ``directory/name`` from CUDA ``source`` with nvcc.

    ``gencode`` items are ``-gencode`` values (``arch=compute_75,code=sm_75``).
    The result is a shared library, or an object file when ``extra`` has ``-c``.
    """
    nvcc, _ = require_nvcc()
    directory.mkdir(parents=True, exist_ok=True)
    src = directory / (Path(name).stem.split(".")[0] + ".cu")
    src.write_text(source)
    out = directory / name
    extra = list(extra)
    args: list[str | Path] = [nvcc, *extra]
    if "-c" not in extra:
        args.append("-shared")
    args += ["-Xcompiler", "-fPIC", "-o", out, src]
    for item in gencode:
        args += ["-gencode", item]
    run_compiler(args, directory)
    return out
