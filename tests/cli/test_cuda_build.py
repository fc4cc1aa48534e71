"""The real CUDA build of llama-cpp-python for the Kaggle T4, checked from its cached wheel.

A CUDA build of llama.cpp takes tens of minutes to over an hour on 2 shared
cores, so this test never starts one by itself: it runs when kbundle's build
cache (KBUNDLE_E2E_CACHE_DIR, else the user cache directory) already holds the
wheel this machine would build for kaggle-t4, and skips, saying so, otherwise.
``KBUNDLE_CUDA_BUILD=1`` lets it build that wheel (needs ``nvcc`` and the
toolkit's cuBLAS headers and libraries).

What it proves, on the lib ``kbundle vendor`` makes from that wheel:
the fatbin holds sm_75 SASS and compute_75 PTX; every NEEDED soname resolves
on kaggle-t4 (vendored CUDA libraries or the image's); the bootstrap preloads
the vendored CUDA libraries in dependency order (and really loads them here);
``kbundle check`` is clean for kaggle-t4 and refuses kaggle-gpu-2024, whose
driver (CUDA 12.2) cannot run the CUDA 13 build.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import pytest

from bundler.build.builder import build_entry, cached_wheel
from bundler.build.recipes import choose_recipe, detect_host
from bundler.check.system_libs import BASE_SYSTEM_SONAMES, CUDA_DRIVER_SONAMES
from bundler.elf.reader import iter_elf_files, read_elf
from bundler.lock.pylock_read import read_lock
from bundler.target.presets import load_preset
from tests.helpers.run import run_cli

pytestmark = pytest.mark.slow

LLAMA = "llama-cpp-python==0.3.36"
TARGET = "kaggle-t4"


@dataclass
class CudaLib:
    lib: Path
    cache: str
    wheel: Path


def _run(args: list[str], cache: str) -> tuple[int, str, str]:
    """``kbundle ARGS`` on the persistent cache: offline first, then with the index."""
    env = {"KBUNDLE_CACHE_DIR": cache}
    res = run_cli(*args, "--offline", env=env)
    if res.exit_code != 0 and "offline" in res.stderr.lower():
        res = run_cli(*args, env=env)
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def cuda_lib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CudaLib]:
    cache = os.environ.get("KBUNDLE_E2E_CACHE_DIR") or platformdirs.user_cache_dir("kbundle")
    saved = os.environ.get("KBUNDLE_CACHE_DIR")
    os.environ["KBUNDLE_CACHE_DIR"] = cache
    try:
        root = tmp_path_factory.mktemp("cuda")
        lock = root / "pylock.toml"
        code, _, err = _run(
            ["lock", LLAMA, "--target", TARGET, "--build", "llama-cpp-python", "-o", str(lock)],
            cache,
        )
        if code != 0:
            pytest.skip(f"cannot lock {LLAMA} for {TARGET} (no index, nothing cached): {err}")
        package = next(p for p in read_lock(lock).vendored if p.name == "llama-cpp-python")
        assert package.sdist is not None and package.sdist.sha256 is not None
        target = load_preset(TARGET)
        recipe = choose_recipe(package.name, target, detect_host())
        if not recipe.key.startswith("llama-cpp-python:cuda"):
            pytest.skip(f"this machine would not build for CUDA: {'; '.join(recipe.warnings)}")
        entry = build_entry(package.sdist.sha256, recipe, target)
        if cached_wheel(entry) is None and os.environ.get("KBUNDLE_CUDA_BUILD") != "1":
            pytest.skip(
                f"no cached CUDA build of llama-cpp-python for {TARGET} in {entry} (recipe "
                f"{recipe.key}); set KBUNDLE_CUDA_BUILD=1 to build it (tens of minutes)"
            )
        lib = root / "lib"
        code, _, err = _run(
            [
                "vendor",
                "--lock",
                str(lock),
                "--target",
                TARGET,
                "--build",
                "llama-cpp-python",
                "-t",
                str(lib),
            ],
            cache,
        )
        assert code == 0, err
        wheel = cached_wheel(entry)
        assert wheel is not None
        yield CudaLib(lib, cache, wheel)
    finally:
        if saved is None:
            os.environ.pop("KBUNDLE_CACHE_DIR", None)
        else:
            os.environ["KBUNDLE_CACHE_DIR"] = saved


def test_fatbin_holds_sm75_sass_and_compute75_ptx(cuda_lib: CudaLib) -> None:
    infos = [
        info
        for path in iter_elf_files(cuda_lib.lib / "llama_cpp")
        if (info := read_elf(path)) is not None
    ]
    gpu = [i for i in infos if i.cuda_sass_archs or i.cuda_ptx_archs or i.fatbin_error]
    # The wheel ships the library under each of its names (libggml-cuda.so, .so.0, ...).
    assert gpu and all(Path(i.path).name.startswith("libggml-cuda.so") for i in gpu), gpu
    for info in gpu:
        assert info.fatbin_error is None
        assert info.cuda_sass_archs == ("sm_75",)  # runs as is on a T4
        assert info.cuda_ptx_archs == ("compute_75",)  # JIT-compiled on newer GPUs


def test_every_needed_soname_resolves_on_kaggle_t4(cuda_lib: CudaLib) -> None:
    target = load_preset(TARGET)
    infos = [info for path in iter_elf_files(cuda_lib.lib) if (info := read_elf(path)) is not None]
    in_lib = {Path(i.path).name for i in infos} | {i.soname for i in infos if i.soname}
    available = in_lib | set(target.provided_libraries) | BASE_SYSTEM_SONAMES | CUDA_DRIVER_SONAMES
    missing = {
        f"{Path(i.path).relative_to(cuda_lib.lib)}: {name}"
        for i in infos
        for name in i.needed
        if name not in available
    }
    assert not missing
    cuda = next(i for i in infos if Path(i.path).name.startswith("libggml-cuda.so"))
    # The CUDA 13 runtime and cuBLAS come from the lib (the image has CUDA 12's) ...
    assert {"libcudart.so.13", "libcublas.so.13"} <= set(cuda.needed) & in_lib
    # ... and the driver library from the image.
    assert "libcuda.so.1" in cuda.needed and "libcuda.so.1" not in in_lib


def _boot_cuda_libraries(lib: Path) -> tuple[str, ...]:
    tree = ast.parse((lib / "kbundle_boot.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            names = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(n, ast.Name) and n.id == "CUDA_LIBRARIES" for n in names):
                assert node.value is not None
                value: tuple[str, ...] = ast.literal_eval(node.value)
                return value
    raise AssertionError("kbundle_boot.py has no CUDA_LIBRARIES")


def test_bootstrap_preloads_the_cuda_libraries_in_dependency_order(cuda_lib: CudaLib) -> None:
    order = _boot_cuda_libraries(cuda_lib.lib)
    names = [Path(rel).name for rel in order]
    assert {"libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13"} <= set(names)
    for position, rel in enumerate(order):
        info = read_elf(cuda_lib.lib / rel)
        assert info is not None
        for dep in info.needed:
            if dep in names:
                assert names.index(dep) < position, f"{rel} is loaded before its {dep}"
    assert names.index("libcublasLt.so.13") < names.index("libcublas.so.13")
    assert "libnvblas.so.13" not in names  # a BLAS interposer, not a dependency
    # Really load them, as the bootstrap does in the notebook: no GPU is needed
    # for that (the runtime opens the driver library only when first called).
    code = (
        f"import sys, json; sys.path.insert(0, {str(cuda_lib.lib)!r})\n"
        "import kbundle_boot\n"
        "print(json.dumps([h._name for h in kbundle_boot._LOADED]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == [str(cuda_lib.lib / rel) for rel in order]


def test_check_is_clean_on_kaggle_t4(cuda_lib: CudaLib) -> None:
    res = run_cli(
        "check", "--lib", str(cuda_lib.lib), "--target", TARGET, "--json",
        env={"KBUNDLE_CACHE_DIR": cuda_lib.cache},
    )  # fmt: skip
    doc = json.loads(res.stdout)
    assert res.exit_code == 0, res.stderr
    assert [p for p in doc["problems"] if p["severity"] == "error"] == []


def test_check_refuses_the_cuda13_build_on_the_2024_driver(cuda_lib: CudaLib) -> None:
    res = run_cli(
        "check", "--lib", str(cuda_lib.lib), "--target", "kaggle-gpu-2024", "--json",
        env={"KBUNDLE_CACHE_DIR": cuda_lib.cache},
    )  # fmt: skip
    assert res.exit_code == 1, res.stderr
    cuda = [p for p in json.loads(res.stdout)["problems"] if p["kind"] == "cuda"]
    assert cuda and all(p["severity"] == "error" for p in cuda)
    assert any("13" in p["detail"] and "12.2" in p["detail"] for p in cuda), cuda
