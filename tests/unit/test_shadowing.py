"""The pieces of the image-scope rule: coupling, closure, breaks, recorded requirements."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from bundler.index.finder import Finder
from bundler.index.simple_api import _parse_wheel_filename
from bundler.net.client import HttpClient
from bundler.request.index_config import IndexConfig
from bundler.resolve.shadowing import abi_coupled, find_breaks, image_closure
from bundler.target.manifest import InstalledDist
from bundler.target.model import IndexFacts, Target
from bundler.target.presets import load_preset
from tests.helpers.index_server import IndexServer
from tests.helpers.run import REPO
from tests.helpers.wheels import build_wheel

N = NormalizedName


@pytest.mark.parametrize(
    ("dependent", "req", "coupled"),
    [
        ("torchvision", "torch==2.10.0", True),
        ("torchvision", "torch", True),  # a native extension built against torch
        ("xformers", "torch>=2.8", True),
        ("cuda-python", "cuda-bindings~=12.9.4", True),
        ("anything", "foo===1.0", True),
        ("cudf-cu12", "cuda-toolkit==12.*", False),
        ("raft-dask", "dask-cuda==26.2.*", False),
        ("gradio", "huggingface-hub<2,>=0.33", False),
        ("lib", "foo~=1.2", False),
    ],
)
def test_abi_coupling(dependent: str, req: str, coupled: bool) -> None:
    assert abi_coupled(N(dependent), Requirement(req)) is coupled


def _target(installed: dict[str, tuple[str, list[str] | None]]) -> Target:
    return replace(
        load_preset("kaggle-t4"),
        installed={
            n: InstalledDist(n, v, tuple(r) if r is not None else None)
            for n, (v, r) in installed.items()
        },
        index_facts={},
        preloaded=(),
    )


def _requires(target: Target):  # type: ignore[no-untyped-def]
    def requires_of(name: NormalizedName) -> tuple[Requirement, ...] | None:
        texts = target.recorded_requires(name)
        return None if texts is None else tuple(Requirement(t) for t in texts)

    return requires_of


def test_image_closure_follows_image_requirements_and_markers() -> None:
    target = _target(
        {
            "transformers": ("5.0.0", ["huggingface-hub<2", 'tomli; python_version < "3.11"']),
            "huggingface-hub": ("1.11.0", ["filelock"]),
            "filelock": ("3.0", []),
            "tomli": ("2.0", []),
            "gradio": ("5.50.0", ["huggingface-hub<2"]),
        }
    )
    closure = image_closure(target, [N("transformers")], _requires(target))
    assert closure == {"transformers", "huggingface-hub", "filelock"}  # no tomli on 3.12


def test_breaks_are_scoped_and_unknown_requirements_are_not_looked_up() -> None:
    target = _target(
        {
            "huggingface-hub": ("1.11.0", []),
            "transformers": ("5.0.0", ["huggingface-hub<2"]),
            "gradio": ("5.50.0", ["huggingface-hub<2"]),
            "mystery": ("1.0", None),
        }
    )
    asked: list[str] = []
    requires_of = _requires(target)

    def counting(name: NormalizedName) -> tuple[Requirement, ...] | None:
        asked.append(name)
        return requires_of(name)

    breaks = find_breaks(
        target,
        {N("huggingface-hub"): Version("2.4.0")},
        closure={N("transformers")},
        requires_of=counting,
    )
    assert {(b.dependent, b.scope) for b in breaks} == {
        ("transformers", "closure"),
        ("gradio", None),
    }
    assert "mystery" not in asked  # out of scope and nothing recorded: never fetched
    strict = find_breaks(
        target,
        {N("huggingface-hub"): Version("2.4.0")},
        closure=set(),
        requires_of=counting,
        strict=True,
    )
    assert {b.scope for b in strict} == {"strict"}
    assert "mystery" in asked


def test_recorded_requires_prefer_captured_then_matching_preset_facts() -> None:
    target = replace(
        _target({"a": ("1.0", ["x"]), "b": ("2.0", None), "c": ("3.0", None)}),
        index_facts={
            "a": IndexFacts("1.0", ("y",)),
            "b": IndexFacts("2.0", ("z>=1",), 123),
            "c": IndexFacts("2.9", ("old",)),  # another release: not applied
        },
    )
    assert target.recorded_requires("a") == ("x",)
    assert target.recorded_requires("b") == ("z>=1",)
    assert target.recorded_requires("c") is None
    assert target.requirers("z") == {"b"}
    assert target.installed_size("b") == 123 and target.installed_size("c") is None


def test_presets_ship_their_image_requirements_outside_the_fingerprint() -> None:
    target = load_preset("kaggle-t4")
    assert target.recorded_requires("torchvision") is not None
    assert any(r.startswith("torch") for r in target.recorded_requires("torchvision") or ())
    assert target.fingerprint == replace(target, index_facts={}).fingerprint


@pytest.mark.parametrize(
    "filename",
    [
        "torch-2.10.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "numpy-2.0.2-1build-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "Foo_Bar-1.0rc1-py2.py3-none-any.whl",
    ],
)
def test_wheel_names_parse_as_packaging_does(filename: str) -> None:
    assert _parse_wheel_filename(filename) == parse_wheel_filename(filename)


def _load_tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "image_requires", REPO / "tools/image_requires.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generator_records_requirements_and_sizes_from_the_index(tmp_path: Path) -> None:
    simple = tmp_path / "simple"
    build_wheel(simple, "app", "1.0", requires=["numpy>=1.20", 'tomli; python_version < "3.11"'])
    target = _target({"app": ("1.0", None), "gone": ("0.1", None)})
    tool = _load_tool()
    with IndexServer({"simple": simple}) as server:
        finder = Finder(IndexConfig(index_urls=(server.index_url(),)), HttpClient())
        app = tool._entry(finder, target, canonicalize_name("app"))
        gone = tool._entry(finder, target, canonicalize_name("gone"))
    assert app["version"] == "1.0"
    assert app["requires"] == ["numpy>=1.20", 'tomli; python_version < "3.11"']
    assert app["wheel_size"] > 0
    assert gone == {"version": "0.1", "requires": None}
