"""bundler.vendor.lib_manifest: kbundle.json and the bootstrap's data, from values."""

from __future__ import annotations

import json
from pathlib import Path

from bundler.lock.model import Lock, LockedPackage
from bundler.request.index_config import IndexConfig
from bundler.target.presets import load_preset
from bundler.vendor.install import InstalledWheel
from bundler.vendor.lib_manifest import boot_info, lib_manifest, top_level_modules
from bundler.vendor.offline_env import ALWAYS
from bundler.vendor.request import VendorRequest
from tests.helpers.locks import lock_of

TARGET = load_preset("kaggle-cpu-2026")

LOCK = lock_of(
    TARGET,
    LockedPackage("app", "1.0", "build"),
    LockedPackage("numpy", "2.1.0", "vendor", shadows="1.26.4"),
    LockedPackage("datasets", "3.0.0", "image"),
)

INSTALLED = [
    InstalledWheel(
        "numpy",
        "2.1.0",
        "numpy-2.1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        ("numpy/__init__.py", "numpy.libs/libgfortran.so.5", "numpy-2.1.0.dist-info/RECORD"),
        300,
    ),
    InstalledWheel("app", "1.0", "app-1.0-py3-none-any.whl", ("app.py",), 10),
]


def request_for(lock: Lock, lib: Path, *, offline_env: bool = True) -> VendorRequest:
    index = IndexConfig(index_urls=())
    return VendorRequest(lock, TARGET, lib, index, offline_env=offline_env)


def test_manifest_records_target_lock_and_each_package(tmp_path: Path) -> None:
    sources = {"app": "build", "numpy": "vendor"}

    doc = json.loads(lib_manifest(request_for(LOCK, tmp_path), INSTALLED, sources))

    assert doc["target"] == TARGET.name
    assert doc["fingerprint"] == doc["lock_fingerprint"] == TARGET.fingerprint
    assert doc["requirements"] == ["app", "numpy"]
    assert [(p["name"], p["source"], p["bytes"]) for p in doc["packages"]] == [
        ("app", "build", 10),
        ("numpy", "vendor", 300),
    ]
    assert doc["image"] == {"datasets": "3.0.0"}
    assert doc["shadowed"] == {"numpy": "1.26.4"}


def test_top_level_modules_are_the_import_names() -> None:
    wheel = InstalledWheel(
        "pkg",
        "1",
        "pkg.whl",
        (
            "pkg/__init__.py",
            "single.py",
            "_speedups.cpython-312-x86_64-linux-gnu.so",
            "pkg-1.dist-info/METADATA",
            "pkg-1.data/scripts/tool",
            "bin/tool",
            "README.txt",
        ),
        0,
    )
    assert top_level_modules(wheel) == ("_speedups", "pkg", "single")


def test_boot_info_guards_shadowed_packages_and_sets_offline_switches(tmp_path: Path) -> None:
    info = boot_info(request_for(LOCK, tmp_path), INSTALLED, tmp_path)

    assert dict(info.shadowed) == {"numpy": ("2.1.0", "1.26.4", ("numpy", "numpy.libs"))}
    assert info.cuda_libraries == ()  # no nvidia/*/lib in this lib
    assert info.fingerprint == TARGET.fingerprint
    # The lock holds datasets (from the image), so its own switch is set too.
    assert dict(info.env) == {**ALWAYS, "HF_DATASETS_OFFLINE": "1"}


def test_boot_info_without_offline_switches(tmp_path: Path) -> None:
    info = boot_info(request_for(LOCK, tmp_path, offline_env=False), INSTALLED, tmp_path)
    assert dict(info.env) == {}
