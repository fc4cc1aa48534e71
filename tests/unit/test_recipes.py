"""Which recipe builds a package for a target on a host: data-driven cases."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bundler.build.recipes import Host, choose_recipe, detect_host, parse_nvcc_version
from bundler.errors import InputError, KbundleError
from bundler.target.cuda import CudaVersion
from bundler.target.model import Cuda, Target
from bundler.target.presets import load_preset

T4_2026 = load_preset("kaggle-gpu-2026")  # CUDA runtime 12.8, driver 13.0, sm_75, Python 3.12
GPU_2024 = load_preset("kaggle-gpu-2024")  # CUDA runtime 12.1, driver 12.2, sm_75 + sm_60
CPU_2026 = load_preset("kaggle-cpu-2026")  # no CUDA
COLAB_2026 = load_preset("colab-gpu-2026")  # CUDA runtime 12.8, driver unknown, sm_75


def host(
    nvcc: str | None = "13.0", python: tuple[int, int] = (3, 11), arch: str = "x86_64"
) -> Host:
    return Host(
        arch=arch,
        python_version=python,
        python=f"/usr/bin/python{python[0]}.{python[1]}",
        nvcc_cuda=CudaVersion.parse(nvcc) if nvcc else None,
    )


def with_cuda(target: Target, runtime: str | None, driver: str | None, *archs: str) -> Target:
    return replace(target, cuda=Cuda(runtime=runtime, driver_max=driver, archs=archs))


@dataclass(frozen=True)
class Case:
    target: Target
    host: Host
    cmake_args: str
    key: str
    cuda_runtime_major: int | None = None
    warning: str | None = None  # a substring of the one warning expected; None: no warnings
    note: str | None = None  # likewise for notes
    cpu_only: bool = False


CPU_ARGS = "-DGGML_CUDA=off -DGGML_NATIVE=off"
CPU_KEY = "llama-cpp-python:cpu"

LLAMA_CASES = {
    "kaggle-t4 2026, nvcc 13: CUDA 13 build, vendored runtime": Case(
        T4_2026,
        host("13.0"),
        "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=75-real;75-virtual -DGGML_NATIVE=off",
        "llama-cpp-python:cuda13.0:sm75",
        cuda_runtime_major=13,
        note="carries the CUDA 13 runtime",
    ),
    "kaggle-t4 2026, nvcc 12.4: the image's runtime": Case(
        T4_2026,
        host("12.4"),
        "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=75-real;75-virtual -DGGML_NATIVE=off",
        "llama-cpp-python:cuda12.4:sm75",
    ),
    "kaggle 2024, nvcc 12.1: both GPU archs": Case(
        GPU_2024,
        host("12.1"),
        "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=60-real;75-real;75-virtual -DGGML_NATIVE=off",
        "llama-cpp-python:cuda12.1:sm75-sm60",
    ),
    "kaggle 2024, nvcc 12.4: newer minor noted": Case(
        GPU_2024,
        host("12.4"),
        "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=60-real;75-real;75-virtual -DGGML_NATIVE=off",
        "llama-cpp-python:cuda12.4:sm75-sm60",
        note="newer minor release",
    ),
    "kaggle 2024, nvcc 13: its driver cannot run CUDA 13": Case(
        GPU_2024, host("13.0"), CPU_ARGS, CPU_KEY, warning="driver runs CUDA up to 12.2"
    ),
    "colab 2026, nvcc 13: its unknown driver is trusted with CUDA 12 only": Case(
        COLAB_2026, host("13.0"), CPU_ARGS, CPU_KEY, warning="driver is unknown"
    ),
    "colab 2026, nvcc 12.8: the image's runtime": Case(
        COLAB_2026,
        host("12.8"),
        "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=75-real;75-virtual -DGGML_NATIVE=off",
        "llama-cpp-python:cuda12.8:sm75",
    ),
    "target without CUDA": Case(CPU_2026, host("13.0"), CPU_ARGS, CPU_KEY),
    "cpu_only on a GPU target": Case(T4_2026, host("13.0"), CPU_ARGS, CPU_KEY, cpu_only=True),
    "no nvcc on this machine": Case(T4_2026, host(None), CPU_ARGS, CPU_KEY, warning="no nvcc"),
    "GPU of unknown compute capability": Case(
        with_cuda(T4_2026, "12.8", "13.0"), host("13.0"), CPU_ARGS, CPU_KEY, warning="unknown"
    ),
    "nvcc 13 leaves out a Pascal GPU": Case(
        with_cuda(T4_2026, "13.0", "13.0", "7.5", "6.0"),
        host("13.0"),
        "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=75-real;75-virtual -DGGML_NATIVE=off",
        "llama-cpp-python:cuda13.0:sm75",
        warning="compute capability 6.0; the build leaves it out",
    ),
    "nvcc 13 and only a Pascal GPU": Case(
        with_cuda(T4_2026, "12.8", "13.0", "6.0"),
        host("13.0"),
        CPU_ARGS,
        CPU_KEY,
        warning="cannot compile for the target's GPU",
    ),
    "unknown image runtime, driver runs nvcc's major": Case(
        with_cuda(T4_2026, None, "13.0", "7.5"),
        host("13.0"),
        "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=75-real;75-virtual -DGGML_NATIVE=off",
        "llama-cpp-python:cuda13.0:sm75",
        cuda_runtime_major=13,
        note="carries the CUDA 13 runtime",
    ),
    "another host Python is fine (ctypes binding)": Case(
        T4_2026,
        host("12.8", python=(3, 10)),
        "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=75-real;75-virtual -DGGML_NATIVE=off",
        "llama-cpp-python:cuda12.8:sm75",
    ),
}


@pytest.mark.parametrize("case", list(LLAMA_CASES.values()), ids=list(LLAMA_CASES))
def test_llama_cpp_python_recipe(case: Case) -> None:
    recipe = choose_recipe("llama-cpp-python", case.target, case.host, cpu_only=case.cpu_only)

    assert recipe.env == {"CMAKE_ARGS": case.cmake_args}
    assert recipe.key == case.key
    assert recipe.cuda_runtime_major == case.cuda_runtime_major
    assert recipe.needs_python_abi is False
    if case.warning is None:
        assert recipe.warnings == ()
    else:
        assert len(recipe.warnings) == 1 and case.warning in recipe.warnings[0]
    if case.note is None:
        assert recipe.notes == ()
    else:
        assert len(recipe.notes) == 1 and case.note in recipe.notes[0]


@pytest.mark.parametrize("spelling", ["llama_cpp_python", "Llama-CPP.Python"])
def test_llama_recipe_matches_any_spelling_of_the_name(spelling: str) -> None:
    assert choose_recipe(spelling, CPU_2026, host()).key == CPU_KEY


@pytest.mark.parametrize(("host_glibc", "warned"), [("2.36", True), ("2.31", False), (None, False)])
def test_newer_host_glibc_is_a_warning(host_glibc: str | None, warned: bool) -> None:
    recipe = choose_recipe("llama-cpp-python", GPU_2024, replace(host("12.1"), glibc=host_glibc))
    assert bool(recipe.warnings) is warned
    if warned:
        assert "glibc 2.36" in recipe.warnings[0] and "2.31" in recipe.warnings[0]


def test_generic_recipe_with_the_target_python() -> None:
    recipe = choose_recipe("tinyext", T4_2026, host(python=(3, 12)))
    assert recipe.key == "generic"
    assert recipe.env == {}
    assert recipe.needs_python_abi is True
    assert recipe.cuda_runtime_major is None
    assert recipe.warnings == recipe.notes == ()
    assert hash(recipe) == hash(replace(recipe))


def test_generic_recipe_refuses_another_python() -> None:
    with pytest.raises(KbundleError) as caught:
        choose_recipe("tinyext", T4_2026, host(python=(3, 11)))
    message = str(caught.value)
    assert "--build-python" in message
    assert "Python 3.12" in message and "3.11" in message
    assert "notebook on the target image" in message


@pytest.mark.parametrize("name", ["tinyext", "llama-cpp-python"])
def test_another_architecture_is_refused(name: str) -> None:
    with pytest.raises(InputError) as caught:
        choose_recipe(name, T4_2026, host(arch="aarch64", python=(3, 12)))
    message = str(caught.value)
    assert "runs on x86_64" in message and "is aarch64" in message
    assert "does not cross-compile" in message
    assert "Run `kbundle vendor` on an x86_64 machine" in message
    assert "\n" not in message  # one paragraph


# --- detect_host: the machine itself ---------------------------------------------------

NVCC_13 = """\
nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2025 NVIDIA Corporation
Built on Wed_Aug_20_01:58:59_PM_PDT_2025
Cuda compilation tools, release 13.0, V13.0.88
Build cuda_13.0.r13.0/compiler.36424714_0
"""


def test_parse_nvcc_version() -> None:
    assert parse_nvcc_version(NVCC_13) == CudaVersion(13, 0)
    assert parse_nvcc_version("Cuda compilation tools, release 12.1, V12.1.105") == (
        CudaVersion(12, 1)
    )
    assert parse_nvcc_version("command not found") is None


def test_detect_host_describes_this_interpreter() -> None:
    found = detect_host(None)
    assert found.python == sys.executable
    assert found.python_version == sys.version_info[:2]
    assert found.arch == platform.machine()
    nvcc = shutil.which("nvcc")
    if nvcc is not None:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True)
        assert found.nvcc_cuda == parse_nvcc_version(out.stdout)


def test_detect_host_reads_the_nvcc_cmake_would_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "nvcc-11.8"
    fake.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 11.8, V11.8.89'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CUDACXX", str(fake))
    assert detect_host(None).nvcc_cuda == CudaVersion(11, 8)

    monkeypatch.delenv("CUDACXX")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert detect_host(None).nvcc_cuda is None


def test_detect_host_with_a_missing_build_python() -> None:
    with pytest.raises(InputError, match="--build-python: no Python interpreter at /no/python"):
        detect_host("/no/python")


def test_detect_host_with_another_build_python() -> None:
    candidates = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"))
    if not candidates:
        pytest.skip("no pyenv Python 3.12 under ~/.pyenv/versions")
    found = detect_host(str(candidates[-1]))
    assert found.python_version == (3, 12)
    assert found.python == str(candidates[-1])
    # That Python can build generic packages for the 2026 Kaggle image.
    assert choose_recipe("tinyext", T4_2026, found).key == "generic"
