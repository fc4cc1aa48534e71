"""scan_lib: the distributions of a vendored lib and kbundle's record of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag

from bundler.check.libscan import LibDist, scan_lib
from bundler.errors import InputError
from tests.helpers.targets import add_dist


def test_every_dist_info_is_read(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    add_dist(
        lib,
        "Fast_Thing",
        "1.0",
        requires=("numpy>=2", "not a requirement!!"),
        tag="cp312-cp312-manylinux_2_17_x86_64",
        record=("fast_thing/__init__.py", "fast_thing/_c.so"),
    )
    add_dist(lib, "plain", "2.0", tag=None)
    contents = scan_lib(lib)
    assert contents.path == lib and contents.record is None
    assert contents.dists == {
        "fast-thing": LibDist(
            "fast-thing",
            "1.0",
            (Requirement("numpy>=2"),),  # the unparseable line is left out
            frozenset({Tag("cp312", "cp312", "manylinux_2_17_x86_64")}),
            "Fast_Thing-1.0.dist-info",
            ("fast_thing/__init__.py", "fast_thing/_c.so"),
        ),
        "plain": LibDist("plain", "2.0", (), frozenset(), "plain-2.0.dist-info", ()),
    }


def test_a_dist_info_without_metadata_is_skipped(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    (lib / "half-1.0.dist-info").mkdir(parents=True)
    assert scan_lib(lib).dists == {}


def test_kbundle_json_is_the_record(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "kbundle.json").write_text(json.dumps({"requirements": ["app"]}))
    assert scan_lib(lib).record == {"requirements": ["app"]}


def test_a_broken_record_is_bad_input(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "kbundle.json").write_text("{")
    with pytest.raises(InputError, match="is not valid JSON") as info:
        scan_lib(lib)
    assert str(lib / "kbundle.json") in str(info.value)


def test_a_lib_that_is_not_a_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a folder") as info:
        scan_lib(tmp_path / "nope")
    assert info.value.exit_code == 2
    assert "Give the lib folder `kbundle vendor` made." in str(info.value)
