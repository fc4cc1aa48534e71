"""Constraints never fail silently: a contradictory preloaded list is an error,
and a requested package held far behind its newest version says what held it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from bundler.resolve.behind import far_behind
from tests.helpers.index_server import IndexServer
from tests.helpers.run import run_cli
from tests.helpers.wheels import build_wheel

IMAGE = """\
format = 1
name = "img"
python_full_version = "3.12.3"
glibc = "2.35"
preloaded = {preloaded}
[installed]
torch = "2.1.2"
numpy = "1.26.4"
"""


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "index" / "simple"
    build_wheel(simple, "unsloth", "2024.8")  # the old release has no dependencies
    build_wheel(simple, "unsloth", "2026.1", requires=["torch>=2.4"])
    for version in ("2.1.2", "2.5.1"):
        build_wheel(simple, "torch", version)
    for version in ("1.26.4", "2.1.0"):
        build_wheel(simple, "numpy", version)
    build_wheel(simple, "helper", "2.0")
    with IndexServer({"simple": simple}) as server:
        yield server


def _target(tmp_path: Path, preloaded: str = "[]") -> Path:
    path = tmp_path / "img.toml"
    path.write_text(IMAGE.format(preloaded=preloaded))
    return path


def _lock(index: IndexServer, target: Path, *args: str) -> dict[str, Any]:
    res = run_cli(
        "lock",
        *args,
        "--target",
        str(target),
        "-i",
        index.index_url(),
        "-o",
        str(target.parent / "pylock.toml"),
        "--json",
    )
    assert res.exit_code == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    for warning in doc["warnings"]:
        assert f"warning: {warning}" in res.stderr  # the report shows them too
    return doc


def _versions(doc: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["version"] for p in doc["packages"]}


def test_held_back_by_a_preloaded_package(index: IndexServer, tmp_path: Path) -> None:
    doc = _lock(index, _target(tmp_path, '["torch"]'), "unsloth")
    assert _versions(doc)["unsloth"] == "2024.8"
    [warning] = doc["warnings"]
    assert "unsloth resolved to 2024.8, far behind 2026.1" in warning
    assert "another major version" in warning
    assert "unsloth 2026.1 requires torch>=2.4" in warning
    assert "torch is preloaded by the host at 2.1.2" in warning and "--preloaded" in warning


def test_held_back_by_a_user_pin(index: IndexServer, tmp_path: Path) -> None:
    doc = _lock(index, _target(tmp_path), "unsloth", "torch<2.4")
    assert _versions(doc)["unsloth"] == "2024.8"
    [warning] = doc["warnings"]
    assert "your requirements say torch<2.4" in warning
    assert "relax your requirement on torch" in warning


def test_held_back_by_a_constraints_file(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("torch<2.4\n")
    doc = _lock(index, _target(tmp_path), "unsloth", "-c", str(tmp_path / "c.txt"))
    [warning] = doc["warnings"]
    assert "torch<2.4 (a constraint)" in warning


def test_the_image_copy_of_a_requested_package_is_the_rule_not_a_warning(
    index: IndexServer, tmp_path: Path
) -> None:
    doc = _lock(index, _target(tmp_path), "numpy")
    assert _versions(doc)["numpy"] == "1.26.4"  # the image's, though 2.1.0 is on the index
    assert doc["warnings"] == []
    # Not even looked up: the image's copy needed no page, and the check asks for none.
    assert index.requests("numpy") == []


def test_held_back_by_the_existing_lock(index: IndexServer, tmp_path: Path) -> None:
    target = _target(tmp_path)
    assert _lock(index, target, "unsloth==2024.8")["warnings"] == []  # asked for exactly that
    doc = _lock(index, target, "unsloth", "--replace")
    assert _versions(doc)["unsloth"] == "2024.8"
    [warning] = doc["warnings"]
    assert "the existing lock pins unsloth 2024.8" in warning and "-P unsloth" in warning


def test_no_warning_when_the_newest_is_taken_or_excluded_by_the_user(
    index: IndexServer, tmp_path: Path
) -> None:
    target = _target(tmp_path)
    doc = _lock(index, target, "unsloth")
    assert _versions(doc)["unsloth"] == "2026.1" and doc["warnings"] == []
    (tmp_path / "pylock.toml").unlink()
    assert _lock(index, target, "unsloth<2025")["warnings"] == []


def test_far_behind_rule() -> None:
    assert far_behind(Version("1.0"), None, Version("2.0"), None) is not None
    assert far_behind(Version("2.0"), None, Version("2.9"), None) is None  # times unknown
    old, new = "2024-01-02T03:04:05Z", "2025-03-01T00:00:00Z"
    assert far_behind(Version("2.0"), old, Version("2.9"), new) == "released 14 months later"
    assert far_behind(Version("2.0"), old, Version("2.9"), "2024-06-01T00:00:00Z") is None
    assert far_behind(Version("2.0"), old, Version("2.0"), new) is None


# ---------------------------------------------------------------- --preloaded


def test_a_manifest_without_the_preloaded_packages_is_a_contradiction(
    index: IndexServer, tmp_path: Path
) -> None:
    manifest = tmp_path / "freeze.txt"
    manifest.write_text("numpy==1.26.4\n")
    base = ["--target", "kaggle-gpu-2024", "--manifest", str(manifest)]
    res = run_cli("lock", "helper", *base, "-i", index.index_url(), "-o", str(tmp_path / "l"))
    assert res.exit_code == 2, res.stderr
    assert "preloads torch, transformers" in res.stderr and str(manifest) in res.stderr
    assert "--preloaded" in res.stderr and "no set of versions" not in res.stderr

    lock = tmp_path / "pylock.toml"
    common = [*base, "--preloaded", "", "-i", index.index_url()]
    res = run_cli("lock", "helper", *common, "-o", str(lock))
    assert res.exit_code == 0, res.stderr
    lib = tmp_path / "lib"
    res = run_cli("vendor", *common, "--lock", str(lock), "-t", str(lib), "-q")
    assert res.exit_code == 0, res.stderr
    res = run_cli("check", "--lib", str(lib), "--lock", str(lock), *base)
    assert res.exit_code == 2 and "--preloaded" in res.stderr
    res = run_cli("check", "--lib", str(lib), "--lock", str(lock), *base, "--preloaded", "")
    assert res.exit_code == 0, res.stderr


def test_preloaded_sets_the_list(kbundle: Any, tmp_path: Path) -> None:
    target = _target(tmp_path, '["torch"]')
    res = kbundle("lock", "--target", str(target), "--preloaded", "numpy, Torch", "-o", "x")
    assert res.exit_code == 2  # nothing to lock; but the target itself was accepted
    assert "nothing to lock" in res.stderr
    res = kbundle("lock", "x", "--target", str(target), "--preloaded", "jinja2")
    assert res.exit_code == 2 and "preloads jinja2" in res.stderr
    res = kbundle("lock", "x", "--target", str(target), "--preloaded", "not a name")
    assert res.exit_code == 2 and "--preloaded" in res.stderr


def test_capture_warns_about_a_preloaded_name_it_lacks(tmp_path: Path) -> None:
    out = tmp_path / "t.toml"
    res = run_cli(
        "target",
        "capture",
        "--python",
        sys.executable,
        "--preloaded",
        "no-such-dist",
        "-o",
        str(out),
    )
    assert res.exit_code == 0, res.stderr
    assert "warning: --preloaded names no-such-dist" in res.stderr
    res = run_cli("lock", "helper", "--target", str(out), "-o", str(tmp_path / "l"))
    assert res.exit_code == 2 and "preloads no-such-dist" in res.stderr
