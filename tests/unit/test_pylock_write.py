"""Tests for bundler.lock.pylock_write: a Lock as valid, deterministic PEP 751 text."""

from __future__ import annotations

import dataclasses
import random
from typing import Any, cast

import pytest
from packaging.markers import Environment
from packaging.pylock import PackageSdist, PackageWheel, Pylock, PylockSelectError
from packaging.tags import Tag

from bundler.errors import KbundleError
from bundler.lock.model import Artifact, Lock, LockedPackage
from bundler.lock.pylock_read import parse_lock
from bundler.lock.pylock_write import render_lock
from bundler.lock.requirements_txt import render_requirements_txt
from bundler.target.model import default_markers
from tests.helpers.locks import (
    FILES,
    MARKER,
    SRC,
    TARGET_TAGS,
    document,
    loads,
    make_lock,
    package,
    sha,
    target_environment,
    vendored_package,
    wheel,
)

# ------------------------------------------------------------------ PEP 751 validity


def test_rendered_lock_is_valid_pep_751() -> None:
    pylock = Pylock.from_dict(loads(render_lock(make_lock())))
    pylock.validate()
    assert str(pylock.lock_version) == "1.0"
    assert pylock.created_by == "kbundle"
    assert [str(m) for m in pylock.environments or ()] == [MARKER]
    assert str(pylock.requires_python) == "==3.11.13"
    assert pylock.extras == []
    assert pylock.dependency_groups == []
    assert pylock.default_groups == []


def test_only_vendored_and_built_packages_are_pep_751_packages() -> None:
    doc = document()
    assert [p["name"] for p in doc["packages"]] == ["matplotlib", "pyparsing", "seaborn", "tinysrc"]
    tool = doc["tool"]["kbundle"]
    assert tool["image"] == {"numpy": "2.0.2", "pandas": "2.2.2"}
    assert tool["shadowed"] == {"matplotlib": "3.7.5"}
    assert tool["build"] == ["tinysrc"]
    assert tool["requirements"] == ["seaborn>=0.13", "tinysrc"]
    assert tool["target"] == "kaggle-cpu-2026"
    assert tool["fingerprint"] == "sha256:0123456789abcdef"
    assert tool["kbundle-version"] == "0.1.0"
    assert tool["cuda-index"] == ["torch"]  # Lock.extra, verbatim


def test_dependencies_split_between_packages_and_image_dependencies() -> None:
    doc = document()
    # packages.dependencies names only [[packages]] entries ...
    assert package(doc, "seaborn")["dependencies"] == [{"name": "matplotlib"}]
    assert package(doc, "matplotlib")["dependencies"] == [{"name": "pyparsing"}]
    assert "dependencies" not in package(doc, "pyparsing")
    # ... the edges that touch the image are kbundle's.
    assert doc["tool"]["kbundle"]["image-dependencies"] == {
        "matplotlib": ["numpy"],
        "pandas": ["numpy"],
        "seaborn": ["numpy", "pandas"],
        "tinysrc": ["numpy"],
    }


def test_files_carry_name_url_size_upload_time_and_hash() -> None:
    doc = document()
    [whl] = package(doc, "matplotlib")["wheels"]
    assert whl["name"].startswith("matplotlib-3.9.0-cp311")
    assert whl["url"] == f"{FILES}/{whl['name']}"
    assert whl["size"] == 1000 + len(whl["name"])
    assert whl["hashes"] == {"sha256": sha("1")}
    assert whl["upload-time"].isoformat() == "2024-05-15T23:37:48.123456+00:00"  # a TOML datetime
    sdist = package(doc, "tinysrc")["sdist"]
    assert sdist == {
        "name": "tinysrc-1.0.tar.gz",
        "url": f"{FILES}/tinysrc-1.0.tar.gz",
        "size": 1018,
        "hashes": {"sha256": sha("4")},
    }
    assert "wheels" not in package(doc, "tinysrc")
    assert package(doc, "matplotlib")["index"] == "https://pypi.org/simple"
    assert package(doc, "matplotlib")["requires-python"] == ">=3.9"


def test_select_picks_the_vendored_wheels_on_the_target() -> None:
    pylock = Pylock.from_dict(loads(render_lock(make_lock())))
    selected = {
        str(p.name): f for p, f in pylock.select(environment=target_environment(), tags=TARGET_TAGS)
    }
    assert isinstance(selected["tinysrc"], PackageSdist)
    wheels = {name: f for name, f in selected.items() if isinstance(f, PackageWheel)}
    assert sorted(wheels) == ["matplotlib", "pyparsing", "seaborn"]
    chosen = {name: f.filename for name, f in wheels.items()}
    chosen["tinysrc"] = selected["tinysrc"].filename
    assert chosen == {
        "matplotlib": "matplotlib-3.9.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pyparsing": "pyparsing-3.1.2-py3-none-any.whl",
        "seaborn": "seaborn-0.13.2-py3-none-any.whl",
        "tinysrc": "tinysrc-1.0.tar.gz",
    }


def test_select_refuses_another_platform() -> None:
    pylock = Pylock.from_dict(loads(render_lock(make_lock())))
    mac = cast(Environment, {**default_markers("3.11.13", "arm64"), "sys_platform": "darwin"})
    with pytest.raises(PylockSelectError, match="environments"):
        list(pylock.select(environment=mac, tags=TARGET_TAGS))
    # Right environment, but tags no wheel of matplotlib matches.
    with pytest.raises(PylockSelectError, match="matplotlib"):
        list(pylock.select(environment=target_environment(), tags=[Tag("py3", "none", "any")]))


# ------------------------------------------------------------------ determinism


def test_render_is_deterministic() -> None:
    assert render_lock(make_lock()) == render_lock(make_lock())
    text = render_lock(make_lock())
    assert "created" not in text.split("[tool.kbundle]")[0].replace("created-by", "")


def test_render_is_stable_under_input_order() -> None:
    lock = make_lock()
    rng = random.Random(7)
    for _ in range(5):
        packages = list(lock.packages)
        rng.shuffle(packages)
        shuffled = tuple(
            dataclasses.replace(
                p, dependencies=tuple(rng.sample(p.dependencies, len(p.dependencies)))
            )
            for p in packages
        )
        extra = dict(reversed(list(lock.extra.items())))
        assert render_lock(make_lock(packages=shuffled, extra=extra)) == render_lock(lock)
        assert render_requirements_txt(make_lock(packages=shuffled)) == render_requirements_txt(
            lock
        )


GOLDEN_LOCK = f"""\
# This file is generated by kbundle; do not edit it by hand.
# To update it, run `kbundle lock`.
lock-version = "1.0"
environments = [
    "sys_platform == \\"linux\\"",
]
requires-python = "==3.11.13"
extras = []
dependency-groups = []
default-groups = []
created-by = "kbundle"

[[packages]]
name = "six"
version = "1.16.0"

[[packages.wheels]]
name = "six-1.16.0-py2.py3-none-any.whl"
url = "https://x/six.whl"

[packages.wheels.hashes]
sha256 = "{sha("a")}"

[tool.kbundle]
target = "t"
fingerprint = "sha256:00"
kbundle-version = "0.1.0"
requirements = [
    "six",
]
build = []

[tool.kbundle.image]
numpy = "2.0.2"

[tool.kbundle.shadowed]

[tool.kbundle.image-dependencies]
"""


def test_golden_lock() -> None:
    lock = Lock(
        target_name="t",
        target_fingerprint="sha256:00",
        requires_python="==3.11.13",
        marker='sys_platform == "linux"',
        requirements=("six",),
        packages=(
            LockedPackage("numpy", "2.0.2", "image"),
            LockedPackage(
                "six",
                "1.16.0",
                "vendor",
                wheel=Artifact(
                    "https://x/six.whl", "six-1.16.0-py2.py3-none-any.whl", sha("a"), None
                ),
            ),
        ),
        kbundle_version="0.1.0",
    )
    assert render_lock(lock) == GOLDEN_LOCK
    assert parse_lock(GOLDEN_LOCK, SRC) == lock


# ------------------------------------------------------------------ render errors


@pytest.mark.parametrize(
    ("packages", "extra", "message"),
    [
        ((vendored_package(wheel=None),), {}, "six is vendored but has no wheel"),
        ((vendored_package(source="build"),), {}, "six is to be built but has no sdist"),
        (
            (
                vendored_package(
                    wheel=Artifact("https://x/six.whl", "six-1.16.0-py3-none-any.whl", None, 1)
                ),
            ),
            {},
            "has no sha256",
        ),
        (
            (vendored_package(dependencies=("nope",)),),
            {},
            "six depends on nope, which is not in the lock",
        ),
        ((vendored_package(), vendored_package()), {}, "it has six twice"),
        ((vendored_package(),), {"image": {}}, "reserved key 'image'"),
        ((vendored_package(),), {"when": object()}, "not TOML serializable"),
        (
            (vendored_package(wheel=wheel("six-1.16.0-py3-none-any.whl", sha("a"), "yesterday")),),
            {},
            "'yesterday' of six-1.16.0-py3-none-any.whl is not an RFC 3339",
        ),
        (
            (vendored_package(wheel=wheel("other-1.0-py3-none-any.whl", sha("a"))),),
            {},
            "not be valid PEP 751",
        ),
    ],
)
def test_render_refuses_an_invalid_lock(
    packages: tuple[LockedPackage, ...], extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(KbundleError, match="cannot write the lock") as info:
        render_lock(make_lock(packages=packages, extra=extra, requirements=()))
    assert message in str(info.value)
