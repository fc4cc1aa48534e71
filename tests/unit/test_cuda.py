"""CUDA conventions (bundler.target.cuda): the rules lock, vendor and check share."""

from __future__ import annotations

import pytest
from packaging.version import Version

from bundler.target.cuda import (
    CudaVersion,
    backend_of_library,
    driver_can_run,
    index_tags,
    loaded_cuda_variant,
    runtime_requirements,
    variant_of,
    variant_rank,
)
from bundler.target.model import Cuda

T4_2026 = Cuda(runtime="12.8", driver_max="13.0", archs=("7.5",))
T4_2024 = Cuda(runtime="12.1", driver_max="12.2", archs=("7.5",))


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("cu121", CudaVersion(12, 1)),
        ("cu118", CudaVersion(11, 8)),
        ("cu130", CudaVersion(13, 0)),
        ("cu12", None),
        ("cpu", None),
        ("rocm6.2", None),
    ],
)
def test_labels(label: str, expected: CudaVersion | None) -> None:
    assert CudaVersion.from_label(label) == expected


def test_variant_of_local_versions() -> None:
    assert variant_of(Version("2.5.1+cu121")) == "cu121"
    assert variant_of(Version("2.5.1+cpu")) == "cpu"
    assert variant_of(Version("2.5.1")) is None
    assert variant_of(Version("1.0+local")) is None


def test_driver_compatibility_is_per_major() -> None:
    assert driver_can_run(CudaVersion(12, 8), T4_2024)  # minor-version compatibility
    assert not driver_can_run(CudaVersion(13, 0), T4_2024)
    assert driver_can_run(CudaVersion(13, 0), T4_2026)
    assert not driver_can_run(CudaVersion(12, 1), None)


def test_variant_preference_on_a_cuda_target() -> None:
    ranked = sorted(
        ["cu118", "cu121", "cu124", "cu128", "cu130", "cpu", None],
        key=lambda v: variant_rank(v, T4_2026) or (-1, 0),
        reverse=True,
    )
    assert ranked == ["cu128", "cu124", "cu121", "cu118", None, "cu130", "cpu"]
    assert variant_rank("cu130", T4_2024) is None  # never a major the driver cannot run


def test_variant_preference_on_a_cpu_target() -> None:
    assert variant_rank("cpu", None) > variant_rank(None, None) > variant_rank("cu121", None)  # type: ignore[operator]


def test_runtime_wheels_per_major() -> None:
    assert runtime_requirements(CudaVersion(13, 0)) == [
        "nvidia-cuda-runtime==13.0.*",
        "nvidia-cublas==13.0.*",
    ]
    assert runtime_requirements(CudaVersion(12, 4)) == [
        "nvidia-cuda-runtime-cu12==12.4.*",
        "nvidia-cublas-cu12==12.4.*",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("libbitsandbytes_cuda128.so", ("cuda", CudaVersion(12, 8))),
        ("libbitsandbytes_cuda118.so", ("cuda", CudaVersion(11, 8))),
        ("libbitsandbytes_cuda124_nocublaslt.so", ("cuda", CudaVersion(12, 4))),
        ("libbitsandbytes_rocm64.so", ("rocm", None)),
        ("libbitsandbytes_xpu2025.so", ("xpu", None)),
        ("libbitsandbytes_cpu.so", ("cpu", None)),
        ("libcudart.so.12", None),
        ("libllama.so", None),
    ],
)
def test_backend_of_library(name: str, expected: object) -> None:
    assert backend_of_library(name) == expected


def test_loaded_variant_follows_torch_then_runtime() -> None:
    assert loaded_cuda_variant("2.10.0+cu128", T4_2026) == CudaVersion(12, 8)
    assert loaded_cuda_variant("2.1.2", T4_2024) == CudaVersion(12, 1)
    assert loaded_cuda_variant(None, T4_2026) == CudaVersion(12, 8)
    assert loaded_cuda_variant("2.10.0+cpu", T4_2026) is None
    assert loaded_cuda_variant(None, None) is None


def test_index_tags_prefer_the_runtime_then_older_minors_then_what_the_driver_runs() -> None:
    tags = index_tags(T4_2026)
    assert tags[:3] == ("cu128", "cu127", "cu126")
    assert tags.index("cu120") < tags.index("cu129") < tags.index("cu130")
    assert "cu131" in tags and "cu140" not in tags and "cu118" not in tags
    assert index_tags(T4_2024)[:3] == ("cu121", "cu120", "cu122")
    assert "cu130" not in index_tags(T4_2024)
    assert index_tags(None) == ("cpu",)


def test_pypi_torch_cuda_per_release() -> None:
    from bundler.target.cuda import implied_variant, project_cuda_major, pypi_torch_variant

    expected = {
        "2.1.2": "cu121",
        "2.4.0": "cu121",
        "2.5.1": "cu124",
        "2.6.0": "cu124",
        "2.7.1": "cu126",
        "2.8.0": "cu128",
        "2.10.0": "cu128",
        "2.11.0": "cu130",
        "2.0.1": None,
    }
    for version, label in expected.items():
        assert pypi_torch_variant(Version(version)) == label, version
    assert implied_variant("torch", Version("2.5.1+cpu")) == "cpu"
    assert implied_variant("numpy", Version("2.0.2")) is None
    assert loaded_cuda_variant("2.5.1", T4_2026) == CudaVersion(12, 4)
    for name, major in {
        "nvidia-cublas-cu12": 12,
        "cupy-cuda12x": 12,
        "cupy-cuda11x": 11,
        "jax-cuda13-plugin": 13,
        "nvidia-cuda-runtime": None,
        "cuda-python": None,
        "torch": None,
    }.items():
        assert project_cuda_major(name) == major, name
