"""Tests for bundler.lock.pylock_read: reading a lock back, and every way it can be wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from packaging.pylock import Pylock

from bundler.errors import InputError
from bundler.lock.model import LockedPackage
from bundler.lock.pylock_read import parse_lock, read_lock
from bundler.lock.pylock_write import render_lock
from tests.helpers.locks import (
    MARKER,
    SRC,
    document,
    loads,
    make_lock,
    sha,
    wheel,
)

# ------------------------------------------------------------------ round trip


def test_round_trip() -> None:
    lock = make_lock()
    again = parse_lock(render_lock(lock), SRC)
    assert again == lock
    assert again.image == lock.image
    assert again.extra == lock.extra


def test_round_trip_of_a_lock_with_only_image_packages() -> None:
    lock = make_lock(
        packages=(LockedPackage("numpy", "2.0.2", "image"),), requirements=("numpy",), extra={}
    )
    text = render_lock(lock)
    assert "packages = []" in text
    Pylock.from_dict(loads(text)).validate()
    assert parse_lock(text, SRC) == lock


def test_read_lock(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_bytes(b"\xef\xbb\xbf" + render_lock(make_lock()).encode())
    assert read_lock(path) == make_lock()


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("2024-03-06T06:30:27Z", "2024-03-06T06:30:27Z"),
        ("2024-03-06T06:30:27.5Z", "2024-03-06T06:30:27.500000Z"),
        ("2024-03-06T06:30:27.123456789Z", "2024-03-06T06:30:27.123456Z"),
        ("2024-03-06T08:30:27+02:00", "2024-03-06T06:30:27Z"),
        ("2024-03-06 06:30:27", "2024-03-06T06:30:27Z"),
    ],
)
def test_upload_times_are_normalised_to_utc(written: str, read: str) -> None:
    pkg = LockedPackage(
        "six", "1.16.0", "vendor", wheel=wheel("six-1.16.0-py3-none-any.whl", sha("a"), written)
    )
    lock = make_lock(packages=(pkg,), requirements=("six",))
    [again] = parse_lock(render_lock(lock), SRC).packages
    assert again.wheel is not None
    assert again.wheel.upload_time == read


# ------------------------------------------------------------------ parse errors


def parse_error(text: str, source: str = SRC) -> InputError:
    with pytest.raises(InputError) as info:
        parse_lock(text, source)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"{source}: ")
    return info.value


Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    """An edit of the rendered document: ``path`` is dotted, with ``[i]`` for lists."""

    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            name, _, index = part.partition("[")
            node = node[name] if not index else node[name][int(index[:-1])]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return edit


def _both(*edits: Edit) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        for one in edits:
            one(doc)

    return edit


def _drop_tool(doc: dict[str, Any]) -> None:
    del doc["tool"]


# Package order in the rendered document: matplotlib, pyparsing, seaborn, tinysrc.
ONE_WHEEL = {
    "name": "pyparsing-3.1.2-py3-none-any.whl",
    "url": "https://x/a.whl",
    "hashes": {"sha256": "0" * 64},
}
PARSE_ERRORS = [
    pytest.param(_drop_tool, "is not a kbundle lock: it has no [tool.kbundle] table", id="no-tool"),
    pytest.param(
        _set("packages[0].wheels[0].hashes", None),
        "'packages[0].wheels[0].hashes' (package matplotlib): Missing required value",
        id="no-hashes",
    ),
    pytest.param(
        _set("packages[1].wheels[0].hashes", {}),
        "key 'packages[1].wheels[0].hashes' (package pyparsing)",
        id="empty-hashes",
    ),
    pytest.param(
        _set("packages[2].name", "Seaborn"), "key 'packages[2].name'", id="name-not-normalized"
    ),
    pytest.param(
        _set("packages[1].wheels[0].name", "pyparsing-9-py3-none-any.whl"),
        "key 'packages[1].wheels[0]'",
        id="wheel-of-another-version",
    ),
    pytest.param(
        _set("packages[1].wheels[0].size", "big"),
        "key 'packages[1].wheels[0].size'",
        id="bad-size-type",
    ),
    pytest.param(
        _set("environments", ["linux !!"]),
        "key 'environments[0]': Expected a marker variable or quoted string. Run",
        id="bad-marker",
    ),
    pytest.param(
        _set("created-by", None), "key 'created-by': Missing required value", id="no-created-by"
    ),
    pytest.param(_set("lock-version", "2.0"), "key 'lock-version' is '2.0'", id="lock-version"),
    pytest.param(
        _set("environments", [MARKER, MARKER]),
        "key 'environments' must hold exactly one marker",
        id="two-environments",
    ),
    pytest.param(
        _set("requires-python", None), "key 'requires-python' is required", id="no-requires-python"
    ),
    pytest.param(
        _set("tool.kbundle.target", None), "key 'tool.kbundle.target' is required", id="no-target"
    ),
    pytest.param(
        _set("tool.kbundle.fingerprint", None),
        "key 'tool.kbundle.fingerprint' is required",
        id="no-fingerprint",
    ),
    pytest.param(
        _set("tool.kbundle.requirements", "numpy"),
        "key 'tool.kbundle.requirements' must be a list",
        id="requirements-type",
    ),
    pytest.param(
        _set("tool.kbundle.requirements", ["numpy >>> 2"]),
        "key 'tool.kbundle.requirements' holds 'numpy >>> 2'",
        id="bad-requirement",
    ),
    pytest.param(
        _set("tool.kbundle.image", {"numpy": 2}),
        "key 'tool.kbundle.image.numpy' must be a string",
        id="image-version-type",
    ),
    pytest.param(
        _set("tool.kbundle.image", {"seaborn": "0.1"}),
        "key 'tool.kbundle.image.seaborn' is also in [[packages]]",
        id="image-and-package",
    ),
    pytest.param(
        _set("tool.kbundle.build", ["tinysrc", "ghost"]),
        "key 'tool.kbundle.build' names ghost",
        id="build-stray",
    ),
    pytest.param(
        _set("tool.kbundle.shadowed", {"ghost": "1"}),
        "key 'tool.kbundle.shadowed' names ghost",
        id="shadowed-stray",
    ),
    pytest.param(
        _set("tool.kbundle.build", ["tinysrc", "seaborn"]),
        "key 'packages[2].sdist' is required",
        id="built-without-sdist",
    ),
    pytest.param(
        _set("tool.kbundle.build", []),
        "key 'packages[3].wheels' is required",
        id="vendored-without-wheel",
    ),
    pytest.param(
        _set("packages[1].wheels", [ONE_WHEEL, ONE_WHEEL]),
        "key 'packages[1].wheels' holds more than one wheel",
        id="two-wheels",
    ),
    pytest.param(
        _set("packages[1].wheels[0].url", None),
        "'packages[1].wheels[0]' (package pyparsing): path or url must be provided",
        id="no-url-or-path",
    ),
    pytest.param(
        _both(
            _set("packages[1].wheels[0].path", "w/pyparsing-3.1.2-py3-none-any.whl"),
            _set("packages[1].wheels[0].url", None),
        ),
        "key 'packages[1].wheels[0].url' is required",
        id="path-not-url",
    ),
    pytest.param(
        _set("packages[1].wheels[0].hashes", {"sha512": "0" * 128}),
        "key 'packages[1].wheels[0].hashes.sha256' is required",
        id="only-sha512",
    ),
    pytest.param(
        _set("packages[1].marker", "os_name == 'nt'"),
        "key 'packages[1].marker' is not a known setting",
        id="package-marker",
    ),
    pytest.param(
        _set("packages[1].version", None), "key 'packages[1].version' is required", id="no-version"
    ),
    pytest.param(
        _set("packages[0].dependencies", [{"version": "1"}]),
        "key 'packages[0].dependencies[0].name' is required",
        id="dependency-without-name",
    ),
    pytest.param(
        _set("packages[0].dependencies", [{"name": "ghost"}]),
        "key 'packages[0].dependencies[0].name' is ghost, which is not in the lock",
        id="unknown-dependency",
    ),
    pytest.param(
        _set("tool.kbundle.image-dependencies.pandas", ["ghost"]),
        "key 'tool.kbundle.image-dependencies.pandas' names ghost, which is not in the lock",
        id="unknown-image-dependency",
    ),
    pytest.param(
        _set("tool.kbundle.image-dependencies.ghost", ["numpy"]),
        "'tool.kbundle.image-dependencies.ghost' is not a package of the lock",
        id="stray-image-dependencies",
    ),
    pytest.param(
        lambda d: d["packages"].append(d["packages"][0]),
        "key 'packages' has matplotlib more than once",
        id="duplicate-package",
    ),
]


@pytest.mark.parametrize(("edit", "message"), PARSE_ERRORS)
def test_parse_errors_name_the_file_and_key(edit: Edit, message: str) -> None:
    doc = document()
    edit(doc)
    error = parse_error(tomli_w.dumps(doc))
    assert message in str(error)


def test_invalid_pep_751_says_to_relock() -> None:
    doc = document()
    del doc["packages"][0]["wheels"][0]["hashes"]
    assert "Run `kbundle lock` to write the lock again." in str(parse_error(tomli_w.dumps(doc)))


def test_not_toml() -> None:
    assert "is not valid TOML" in str(parse_error("lock-version = \n"))


def test_another_tools_lock_is_not_a_kbundle_lock() -> None:
    text = """\
lock-version = "1.0"
created-by = "uv"
[[packages]]
name = "six"
version = "1.16.0"
wheels = [{ url = "https://x/six-1.16.0-py3-none-any.whl", hashes = { sha256 = "00" } }]
"""
    error = parse_error(text, "uv/pylock.toml")
    assert "not a kbundle lock" in str(error)
    assert "kbundle lock" in (error.hint or "")


def test_read_lock_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "pylock.toml"
    with pytest.raises(InputError, match="the lock file does not exist") as info:
        read_lock(missing)
    assert str(missing) in str(info.value)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="is not UTF-8 text") as info:
        read_lock(bad)
    assert str(bad) in str(info.value)
