"""Presets beyond Kaggle against the sources their TOML cites: Colab, AWS Lambda,
plain manylinux_2_28 servers.

The real pip freeze for Colab (a file in the repo), and for the others the
statements quoted from their documentation, kept here beside the fact each one
gives, so a preset edited away from its source fails. What the presets do from
the command line (the Lambda size limit in ``check`` and ``pack``, aarch64
wheels from this machine) is in tests/cli/test_presets_beyond_kaggle.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bundler.check.size import unpacked_size
from bundler.target import presets
from bundler.target.file import render_target_toml
from bundler.target.manifest import load_manifest
from bundler.target.presets import load_preset, load_target
from tests.helpers.presets import BOTO3_CLOSURE, LAMBDA, SERVERS
from tests.helpers.run import REPO

PRESETS = Path(presets.__file__).parent

# glibc of the Ubuntu release each os-info line names (Ubuntu's package archive).
UBUNTU_GLIBC = {"20.04": "2.31", "22.04": "2.35", "24.04": "2.39"}

# What the cited documentation says, word for word where it is quoted in the TOML.
LAMBDA_SOURCES = {
    "os": "Amazon Linux 2023",
    "glibc": "glibc 2.34",
    "sdk": "The Lambda Python runtimes include the AWS SDK for Python (Boto3) and its dependencies",
    "versions": "depends on the runtime version and your AWS Region",
    "limit": "including layers and custom runtimes (unzipped)",
    "mb": '"MB" is 1024 KB',
    "error": "Unzipped size must be smaller than 262144000 bytes",
}


def _comments(name: str) -> str:
    text = (PRESETS / f"{name}.toml").read_text()
    return " ".join(line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#"))


def test_colab_gpu_2026_matches_its_pip_freeze_and_os_info() -> None:
    t = load_preset("colab-gpu-2026")
    freeze = PRESETS / "colab-gpu-base-2026-05-14.txt"
    header = freeze.read_text().split("\n", 3)[1]  # the # WHAT: line quotes os-info-gpu.txt
    ubuntu, python = re.search(r"Ubuntu (\d+\.\d+)\.\d+ LTS;Python (3\.\d+\.\d+)", header).groups()  # type: ignore[union-attr]
    assert t.python_full_version == python == "3.12.13"
    assert t.glibc == UBUNTU_GLIBC[ubuntu]
    assert t.installed == load_manifest(freeze) and not t.partial
    torch = t.installed["torch"].version
    runtime = t.installed["nvidia-cuda-runtime-cu12"].version
    assert torch is not None and runtime is not None
    assert t.cuda is not None and torch.endswith("+cu" + t.cuda.runtime.replace(".", ""))  # type: ignore[union-attr]
    assert runtime.startswith(t.cuda.runtime + ".")  # type: ignore[operator]
    # No source names the driver: left unknown rather than guessed.
    assert t.cuda.driver_max is None and "issue 5578" in _comments("colab-gpu-2026")
    assert t.cuda.archs == ("7.5",)
    assert t.arch == "x86_64" and t.unpacked_size_limit is None


@pytest.mark.parametrize("name", LAMBDA)
def test_lambda_matches_its_sources(name: str) -> None:
    t = load_preset(name)
    comments = _comments(name)
    for quote in LAMBDA_SOURCES.values():
        assert quote in comments, quote
    assert LAMBDA_SOURCES["os"] in t.description
    assert t.glibc == LAMBDA_SOURCES["glibc"].split()[1]
    assert t.tags[0].platform == f"manylinux_2_34_{t.arch}"
    assert (
        t.arch == {"aws-lambda-py312-x86_64": "x86_64", "aws-lambda-py312-arm64": "aarch64"}[name]
    )
    assert t.python_version == (3, 12) and t.cuda is None
    # 250 "MB" of 1024 KB each, and the service's own number.
    assert t.unpacked_size_limit == 250 * 1024 * 1024 == 262144000
    # The SDK and its dependencies are there, at versions nobody publishes.
    assert set(t.installed) == BOTO3_CLOSURE
    assert all(d.version is None for d in t.installed.values()) and t.partial
    assert t.preloaded == ()  # the function's folder comes first on sys.path


def test_lambda_default_architecture_alias() -> None:
    assert load_preset("aws-lambda-py312") == load_preset("aws-lambda-py312-x86_64")


@pytest.mark.parametrize("name", SERVERS)
def test_manylinux_2_28_server_matches_pep_600(name: str) -> None:
    t = load_preset(name)
    arch = name.rsplit("-", 1)[1]
    assert t.arch == arch and t.glibc == "2.28" and t.python_version == (3, 12)
    assert t.tags[0].platform == f"manylinux_2_28_{arch}"
    platforms = {tag.platform for tag in t.tags}
    assert f"manylinux_2_17_{arch}" in platforms and f"manylinux2014_{arch}" in platforms
    assert f"manylinux_2_29_{arch}" not in platforms
    assert not t.installed and not t.partial and t.cuda is None
    assert "AlmaLinux 8" in _comments(name)


def test_readme_preset_table_lists_every_preset() -> None:
    readme = (REPO / "README.md").read_text()
    for name in presets.preset_names():
        assert f"| `{name}`" in readme, name


def test_unpacked_size_counts_hard_links_again(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    (lib / "big").mkdir(parents=True)
    (lib / "big" / "weights.bin").write_bytes(b"x" * 1000)
    (lib / "big" / "copy.bin").hardlink_to(lib / "big" / "weights.bin")
    (lib / "big" / "alias.bin").symlink_to("weights.bin")
    assert unpacked_size(lib) == 2000  # a zip stores both copies, and no symlink


def test_the_size_limit_survives_a_target_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "lambda.toml"
    path.write_text(render_target_toml(load_preset("aws-lambda-py312-arm64")))
    again = load_target(str(path))
    assert again.unpacked_size_limit == 262144000
    assert again.fingerprint == load_preset("aws-lambda-py312-arm64").fingerprint
