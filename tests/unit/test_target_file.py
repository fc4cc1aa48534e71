"""Tests for bundler.target.file: kbundle target TOML and pex complete-platform JSON, in process."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import Tag

from bundler.errors import InputError
from bundler.target.file import (
    load_target_file,
    parse_pex_platform,
    parse_target_toml,
    render_target_toml,
)
from bundler.target.manifest import InstalledDist
from bundler.target.model import Cuda
from bundler.target.presets import load_preset
from bundler.toml_table import parse_toml

SRC = "t.toml"


def target_from(text: str, base_dir: Path = Path()) -> Any:
    return parse_target_toml(parse_toml(text.encode(), SRC), SRC, base_dir)


def error_of(text: str, base_dir: Path = Path()) -> str:
    with pytest.raises(InputError) as info:
        target_from(text, base_dir)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert message.startswith(f"{SRC}: "), message
    return message


# ------------------------------------------------------------------ kbundle TOML


def test_minimal_file_gets_defaults_and_derived_tags() -> None:
    target = target_from('python_full_version = "3.12.13"\nglibc = "2.35"\n')
    assert target.name == "t"  # the file's stem
    assert (target.implementation, target.os, target.arch, target.libc) == (
        "cp",
        "linux",
        "x86_64",
        "glibc",
    )
    assert target.abi == "cp312"
    assert target.python_version == (3, 12)
    assert target.tags[0] == Tag("cp312", "cp312", "manylinux_2_35_x86_64")
    assert Tag("py3", "none", "any") in target.tags
    assert target.markers["python_version"] == "3.12"
    assert target.markers["platform_release"] == ""  # unknown for an image not running
    assert target.cuda is None
    assert target.installed == {}
    assert not target.partial


def test_every_key() -> None:
    target = target_from(
        """\
format = 1
name = "box"
description = "a box"
sources = ["here"]
partial = true
python_full_version = "3.11.9"
arch = "aarch64"
glibc = "2.31"
abi = "cp311"
platform_tags = ["cp311-cp311-manylinux_2_31_aarch64", "py2.py3-none-any"]
preloaded = ["Torch"]
provided_libraries = ["libgomp.so.1"]
unpacked_size_limit = 1000
[markers]
platform_release = "6.1"
[cuda]
runtime = "12.8"
driver_max = "13.0"
archs = ["7.5", "8.0"]
[installed]
NumPy = "2.0.2"
"""
    )
    assert (target.name, target.description, target.sources) == ("box", "a box", ("here",))
    assert target.partial
    assert target.tags == (
        Tag("cp311", "cp311", "manylinux_2_31_aarch64"),
        Tag("py2", "none", "any"),  # a compressed set is expanded, in name order
        Tag("py3", "none", "any"),
    )
    assert target.markers["platform_release"] == "6.1"
    assert target.markers["platform_machine"] == "aarch64"
    assert target.cuda == Cuda("12.8", "13.0", ("7.5", "8.0"))
    assert target.installed == {"numpy": InstalledDist("numpy", "2.0.2")}
    assert target.preloaded == ("torch",)
    assert target.provided_libraries == ("libgomp.so.1",)
    assert target.unpacked_size_limit == 1000


def test_manifest_beside_the_file_and_installed_table_on_top(tmp_path: Path) -> None:
    (tmp_path / "freeze.txt").write_text("numpy==1.26.4\nsix==1.16.0\n")
    target = target_from(
        'python_full_version = "3.12.1"\nmanifest = "freeze.txt"\n[installed]\nnumpy = "2.0.2"\n',
        tmp_path,
    )
    assert {n: d.version for n, d in target.installed.items()} == {
        "numpy": "2.0.2",  # the table wins over the manifest
        "six": "1.16.0",
    }


def test_musl_target() -> None:
    target = target_from('python_full_version = "3.12.1"\nlibc = "musl"\nmusl = "1.2"\n')
    assert target.libc == "musl"
    assert target.glibc is None
    assert target.tags[0].platform == "musllinux_1_2_x86_64"


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ('python_full_version = "3.12.13"\nglibcc = "2.35"\n', ["glibcc", "not a known"]),
        ('python_full_version = "3.12"\n', ["python_full_version", "3.12.13"]),
        ('python_full_version = "3.twelve.1"\n', ["python_full_version", "not a version"]),
        ("python_full_version = 312\n", ["python_full_version", "string"]),
        ("", ["python_full_version", "required"]),
        ('format = 2\npython_full_version = "3.12.1"\n', ["'format'", "format 1"]),
        ('python_full_version = "3.12.1"\nimplementation = "pp"\n', ["implementation", "CPython"]),
        ('python_full_version = "3.12.1"\nos = "windows"\n', ["'os'", "Linux"]),
        ('python_full_version = "3.12.1"\nlibc = "bionic"\n', ["'libc'", "glibc"]),
        ('python_full_version = "3.12.1"\nglibc = "two"\n', ["'glibc'"]),
        ('python_full_version = "3.12.1"\n[cuda]\nruntime = "twelve"\n', ["cuda.runtime"]),
        ('python_full_version = "3.12.1"\n[cuda]\narchs = ["sm_75"]\n', ["cuda.archs", "7.5"]),
        ('python_full_version = "3.12.1"\n[cuda]\ncores = 5\n', ["cuda.cores", "not a known"]),
        ('python_full_version = "3.12.1"\n[installed]\nnumpy = 2\n', ["numpy"]),
        ('python_full_version = "3.12.1"\nplatform_tags = ["cp312"]\n', ["platform_tags"]),
        ('python_full_version = "3.12.1"\nplatform_tags = []\n', ["platform_tags", "empty"]),
        ('python_full_version = "3.12.1"\nmanifest = "missing.txt"\n', ["missing.txt"]),
        ('python_full_version = "3.12.1"\nunpacked_size_limit = 0\n', ["unpacked_size_limit"]),
    ],
)
def test_malformed_target_file_names_the_key(content: str, needles: list[str]) -> None:
    message = error_of(content)
    for needle in needles:
        assert needle in message, message


def test_load_target_file_reads_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "img.toml"
    toml.write_text('python_full_version = "3.12.1"\n')
    assert load_target_file(toml).python_full_version == "3.12.1"
    pex = tmp_path / "img.data"  # no .json suffix: the leading brace says JSON
    pex.write_text(json.dumps(PEX))
    assert load_target_file(pex).name == "img"


def test_load_target_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(InputError, match=re.escape(f"{missing}: cannot read the target file")):
        load_target_file(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("python_full_version = ")
    with pytest.raises(InputError, match=re.escape(f"{bad}: is not valid TOML")):
        load_target_file(bad)


# ------------------------------------------------------------------ render and read back


@pytest.mark.parametrize("name", ["kaggle-t4", "kaggle-cpu-2026"])
def test_render_reads_back_as_the_same_target(name: str) -> None:
    preset = load_preset(name)
    text = render_target_toml(preset, header="# captured\n")
    assert text.startswith("# captured\n")
    again = target_from(text)
    assert again.fingerprint == preset.fingerprint
    assert (again.name, again.description, again.sources) == (
        preset.name,
        preset.description,
        preset.sources,
    )
    assert again.installed == preset.installed


# ------------------------------------------------------------------ pex complete platform

PEX: dict[str, Any] = {
    "marker_environment": {
        "python_full_version": "3.10.14",
        "python_version": "3.10",
        "platform_machine": "x86_64",
        "sys_platform": "linux",
    },
    "compatible_tags": [
        "cp310-cp310-manylinux_2_31_x86_64",
        "cp310-cp310-manylinux_2_17_x86_64",
        "py3-none-any",
    ],
}


def test_pex_platform() -> None:
    target = parse_pex_platform(json.dumps(PEX).encode(), "p.json", default_name="p")
    assert target.name == "p"
    assert target.glibc == "2.31"  # the newest manylinux tag
    assert target.abi == "cp310"
    assert target.tags[0] == Tag("cp310", "cp310", "manylinux_2_31_x86_64")
    assert target.markers["python_full_version"] == "3.10.14"
    assert target.markers["platform_system"] == "Linux"  # filled in by default_markers
    assert target.partial
    assert target.installed == {}


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"compatible_tags": []}, "marker_environment"),
        ({**PEX, "compatible_tags": []}, "compatible_tags"),
        ({**PEX, "compatible_tags": ["cp310"]}, "platform_tags"),
        ({**PEX, "marker_environment": {"python_version": "3.10"}}, "python_full_version"),
    ],
)
def test_malformed_pex_platform(doc: dict[str, Any], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_pex_platform(json.dumps(doc).encode(), "p.json", default_name="p")
    with pytest.raises(InputError, match="not valid JSON"):
        parse_pex_platform(b"{", "p.json", default_name="p")
