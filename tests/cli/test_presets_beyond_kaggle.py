"""Presets beyond Kaggle: Colab, AWS Lambda, plain manylinux_2_28 servers.

Each preset's facts are checked against the sources its TOML cites: the real
pip freeze for Colab (a file in the repo), and for the others the statements
quoted from their documentation, kept here beside the fact each one gives, so
a preset edited away from its source fails. The Lambda size limit is checked
by ``kbundle check`` and ``kbundle pack``; locking and vendoring aarch64
wheels from this x86_64 machine is proven against the real index.
"""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile

from bundler.check.size import unpacked_size
from bundler.target import presets
from bundler.target.manifest import load_manifest
from bundler.target.presets import load_preset
from tests.helpers.run import REPO, run_cli

PRESETS = Path(presets.__file__).parent
LAMBDA = ("aws-lambda-py312-x86_64", "aws-lambda-py312-arm64")
SERVERS = ("manylinux_2_28-py312-x86_64", "manylinux_2_28-py312-aarch64")

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
# boto3's Requires-Dist closure (boto3, botocore, s3transfer, python-dateutil on PyPI).
BOTO3_CLOSURE = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}


def _comments(name: str) -> str:
    text = (PRESETS / f"{name}.toml").read_text()
    return " ".join(line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#"))


# --- Colab ------------------------------------------------------------------------------


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


# --- AWS Lambda -------------------------------------------------------------------------


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


@pytest.mark.network
def test_lambda_preinstalled_list_is_boto3_and_its_requirements(tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    res = run_cli("lock", "boto3", "--target", SERVERS[0], "-o", str(lock), "--json")
    assert res.exit_code == 0, res.stderr
    names = {p["name"] for p in json.loads(res.stdout)["packages"]}
    assert names == BOTO3_CLOSURE


# --- manylinux_2_28 servers -------------------------------------------------------------


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


def test_target_list_shows_every_new_preset_with_its_architecture() -> None:
    res = run_cli("target", "list")
    assert res.exit_code == 0, res.stderr
    rows = {line.split()[0].rstrip(","): line for line in res.stdout.splitlines() if line}
    for name in ("colab-gpu-2026", *LAMBDA, *SERVERS):
        arch = load_preset(name).arch
        assert name in rows and f" {arch} " in rows[name], name
    show = run_cli("target", "show", "aws-lambda-py312-arm64")
    assert "262,144,000 bytes unpacked" in show.stdout
    assert "linux aarch64, glibc 2.34" in show.stdout


def test_readme_preset_table_lists_every_preset() -> None:
    readme = (REPO / "README.md").read_text()
    for name in presets.preset_names():
        assert f"| `{name}`" in readme, name


# --- the unpacked-size limit ------------------------------------------------------------


def _lib_of(tmp_path: Path, size: int, *, installed: bool = False) -> Path:
    """A lib folder of ``size`` bytes: one (sparse) file, and with ``installed``
    the ``*.dist-info`` that makes it a lib for ``kbundle check`` (counted in)."""
    lib = tmp_path / "lib"
    (lib / "big").mkdir(parents=True)
    if installed:
        metadata = b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\n"
        (lib / "big-1.0.dist-info").mkdir()
        (lib / "big-1.0.dist-info" / "METADATA").write_bytes(metadata)
        size -= len(metadata)
    with (lib / "big" / "weights.bin").open("wb") as handle:
        handle.truncate(size)
    return lib


def test_unpacked_size_counts_hard_links_again(tmp_path: Path) -> None:
    lib = _lib_of(tmp_path, 1000)
    (lib / "big" / "copy.bin").hardlink_to(lib / "big" / "weights.bin")
    (lib / "big" / "alias.bin").symlink_to("weights.bin")
    assert unpacked_size(lib) == 2000  # a zip stores both copies, and no symlink


@pytest.mark.parametrize(("size", "code"), [(262144000, 0), (262144001, 1)])
def test_check_enforces_the_lambda_limit(tmp_path: Path, size: int, code: int) -> None:
    lib = _lib_of(tmp_path, size, installed=True)
    res = run_cli("check", "--lib", str(lib), "--target", "aws-lambda-py312-x86_64", "--json")
    assert res.exit_code == code, res.stderr
    sizes = [p for p in json.loads(res.stdout)["problems"] if p["kind"] == "size"]
    assert len(sizes) == code
    if code:
        assert "takes 262,144,001 bytes unpacked" in sizes[0]["detail"]
        assert "limit of 262,144,000 bytes" in sizes[0]["detail"]
    # The same lib is fine where there is no such limit.
    assert run_cli("check", "--lib", str(lib), "--target", SERVERS[0]).exit_code == 0


def test_pack_enforces_the_target_limit_before_writing(tmp_path: Path) -> None:
    sub = tmp_path / "submission"
    _lib_of(sub, 262144000 - 5)
    (sub / "main.py").write_text("x = 1\n")  # 6 bytes: 1 over the limit in all
    out = tmp_path / "out.tar.gz"
    res = run_cli("pack", str(sub), "-o", str(out), "--target", "aws-lambda-py312-arm64")
    assert res.exit_code == 1
    assert "262,144,001 bytes unpacked" in res.stderr and "aws-lambda-py312-arm64" in res.stderr
    assert "Traceback" not in res.stderr and not out.exists()
    (sub / "main.py").write_text("")
    res = run_cli("pack", str(sub), "-o", str(out), "--target", "aws-lambda-py312-arm64")
    assert res.exit_code == 0, res.stderr


# --- cross-architecture -----------------------------------------------------------------


def _elf_machine(path: Path) -> str:
    with path.open("rb") as handle:
        return str(ELFFile(handle)["e_machine"])


@pytest.mark.network
@pytest.mark.skipif(platform.machine() == "aarch64", reason="proves x86_64 -> aarch64")
def test_lock_and_vendor_aarch64_wheels_from_this_machine(tmp_path: Path) -> None:
    target = "aws-lambda-py312-arm64"
    lock = tmp_path / "pylock.toml"
    res = run_cli("lock", "numpy", "pydantic", "--target", target, "-o", str(lock))
    assert res.exit_code == 0, res.stderr
    text = lock.read_text()
    wheels = re.findall(r'^name = "([^"]+\.whl)"', text, re.MULTILINE)
    native = [w for w in wheels if not w.endswith("-none-any.whl")]
    assert {w.split("-")[0] for w in native} == {"numpy", "pydantic_core"}
    assert all("aarch64" in w and "x86_64" not in w for w in native), native
    lib = tmp_path / "lib"
    res = run_cli("vendor", "--lock", str(lock), "--target", target, "-t", str(lib))
    assert res.exit_code == 0, res.stderr
    extensions = sorted(lib.glob("numpy/_core/_multiarray_umath.cpython-312-*.so"))
    extensions += sorted(lib.glob("pydantic_core/_pydantic_core.cpython-312-*.so"))
    assert len(extensions) == 2
    assert {_elf_machine(p) for p in extensions} == {"EM_AARCH64"}
    check = run_cli("check", "--lib", str(lib), "--lock", str(lock), "--target", target)
    assert check.exit_code == 0, check.stderr
    # The lib is for the target, not for here: x86_64 cannot use it.
    other = run_cli("check", "--lib", str(lib), "--target", SERVERS[0], "--json")
    assert other.exit_code == 1
    assert {"tag"} <= {p["kind"] for p in json.loads(other.stdout)["problems"]}


def test_a_build_for_another_architecture_is_refused(tmp_path: Path) -> None:
    from tests.helpers.index_server import IndexServer
    from tests.helpers.wheels import build_sdist

    simple = tmp_path / "index" / "simple"
    build_sdist(simple, "srconly", "1.0", metadata_version="2.2")
    other = "manylinux_2_28-py312-aarch64" if platform.machine() != "aarch64" else SERVERS[0]
    with IndexServer({"simple": simple}) as index:
        lib = tmp_path / "lib"
        res = run_cli(
            "vendor", "srconly", "--build", "srconly", "--target", other,
            "-i", index.index_url(), "-t", str(lib), "--lock", str(tmp_path / "pylock.toml"),
        )  # fmt: skip
    assert res.exit_code == 2, res.stderr
    assert "Traceback" not in res.stderr
    message = res.stderr.strip().splitlines()[-1]  # after the lock's table
    assert message.startswith("kbundle: error: ")
    assert "cannot build srconly for " + other in message and "cross-compile" in message
    assert f"Run `kbundle vendor` on an {load_preset(other).arch} machine" in message
    assert not lib.exists()


@pytest.mark.parametrize("value", ['"250MB"', "0", "-1", "true", "2.5e8"])
def test_a_bad_size_limit_names_the_key(kbundle: Any, tmp_path: Path, value: str) -> None:
    target = tmp_path / "t.toml"
    target.write_text(f'python_full_version = "3.12.0"\nunpacked_size_limit = {value}\n')
    res = kbundle("target", "show", str(target))
    assert res.exit_code == 2
    assert "unpacked_size_limit" in res.stderr and "whole number" in res.stderr
    assert "Traceback" not in res.stderr


def test_the_size_limit_survives_a_target_file_round_trip(tmp_path: Path) -> None:
    from bundler.target.file import render_target_toml
    from bundler.target.presets import load_target

    path = tmp_path / "lambda.toml"
    path.write_text(render_target_toml(load_preset("aws-lambda-py312-arm64")))
    again = load_target(str(path))
    assert again.unpacked_size_limit == 262144000
    assert again.fingerprint == load_preset("aws-lambda-py312-arm64").fingerprint
