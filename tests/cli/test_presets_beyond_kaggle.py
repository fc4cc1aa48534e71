"""Presets beyond Kaggle from the user's side: Colab, AWS Lambda, plain
manylinux_2_28 servers.

The Lambda size limit is checked by ``kbundle check`` and ``kbundle pack``;
locking and vendoring aarch64 wheels from this x86_64 machine is proven
against the real index. The presets' facts against their sources are in
tests/unit/test_preset_sources.py.
"""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile

from bundler.target.presets import load_preset
from tests.helpers.presets import BOTO3_CLOSURE, LAMBDA, SERVERS
from tests.helpers.run import run_cli

# --- AWS Lambda -------------------------------------------------------------------------


@pytest.mark.network
def test_lambda_preinstalled_list_is_boto3_and_its_requirements(tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    res = run_cli("lock", "boto3", "--target", SERVERS[0], "-o", str(lock), "--json")
    assert res.exit_code == 0, res.stderr
    names = {p["name"] for p in json.loads(res.stdout)["packages"]}
    assert names == BOTO3_CLOSURE


# --- target list and show ---------------------------------------------------------------


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
