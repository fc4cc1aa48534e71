"""Tests for bundler.target.manifest.installed_table: the [installed] TOML table, both ways."""

from __future__ import annotations

import pytest
import tomli_w

from bundler.errors import InputError
from bundler.target.manifest import (
    InstalledDist,
    installed_from_table,
    installed_to_table,
    parse_manifest,
)
from tests.helpers.manifest import SRC, parse_error, versions

CAPTURE = """\
# kbundle capture
format = 1

[target]
python = "3.12"

[installed.numpy]
version = "2.0.2"
requires = []

[installed.pandas]
version = "2.2.2"
requires = ["numpy>=1.26", "python-dateutil>=2.8.2", 'tzdata>=2022.7; python_version >= "3.9"']

[installed.jupyter-kernel-gateway]
url = "git+https://github.com/googlecolab/kernel_gateway@b134e99"

[installed.unknown]
version = ""
"""


def test_toml_capture() -> None:
    manifest = parse_manifest(CAPTURE, "capture.toml")
    assert list(manifest) == ["jupyter-kernel-gateway", "numpy", "pandas", "unknown"]
    assert manifest["numpy"] == InstalledDist("numpy", "2.0.2", requires=())
    assert manifest["pandas"].requires == (
        "numpy>=1.26",
        "python-dateutil>=2.8.2",
        'tzdata>=2022.7; python_version >= "3.9"',
    )
    assert manifest["jupyter-kernel-gateway"].version is None
    assert manifest["unknown"] == InstalledDist("unknown", None)


def test_toml_short_form_and_header_first() -> None:
    text = '[installed]\nNumPy = "2.0.2"\nmystery = ""\n'
    assert versions(text, "t.toml") == {"mystery": None, "numpy": "2.0.2"}


def test_toml_round_trip_through_tomli_w() -> None:
    manifest = parse_manifest(CAPTURE, "capture.toml")
    manifest["torch"] = InstalledDist(
        "torch", "2.5.1+cu121", url="https://x/torch-2.5.1%2Bcu121-cp310-cp310-linux_x86_64.whl"
    )
    table = installed_to_table(manifest)
    assert list(table) == sorted(table)
    assert table["numpy"] == {"version": "2.0.2", "requires": []}
    assert table["unknown"] == {}
    document = tomli_w.dumps({"installed": table})
    assert parse_manifest(document, "again.toml") == dict(sorted(manifest.items()))
    assert installed_from_table(table, "t") == dict(sorted(manifest.items()))
    assert tomli_w.dumps({"installed": installed_to_table(manifest)}) == document  # stable


def test_freeze_round_trips_through_table() -> None:
    text = "b===odd\na==1.0\nc @ git+https://h/c@abc\n"
    manifest = parse_manifest(text, SRC)
    assert installed_from_table(installed_to_table(manifest), "t") == manifest


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"numpy": 2}, "installed.numpy must be a version string or a table, not an integer"),
        ({"numpy": {"version": 2.0}}, "installed.numpy.version must be a string, not a float"),
        ({"numpy": {"requires": "six"}}, "installed.numpy.requires must be a list"),
        ({"numpy": {"requires": ["six", 3]}}, "installed.numpy.requires[1] must be a string"),
        (
            {"numpy": {"requires": ["six>>1"]}},
            "installed.numpy.requires[0] 'six>>1' is not a valid requirement",
        ),
        ({"numpy": {"url": ["x"]}}, "installed.numpy.url must be a string, not a list"),
        ({"numpy": {"verison": "1"}}, "installed.numpy.verison is not a known key"),
        ({"bad name!": "1"}, 'installed."bad name!"'),
        ({"Jinja2": "3", "jinja2": "3"}, "installed.jinja2 and installed.Jinja2"),
    ],
)
def test_installed_table_errors_name_the_key(table: dict[str, object], expected: str) -> None:
    with pytest.raises(InputError) as info:
        installed_from_table(table, "capture.toml")
    message = str(info.value)
    assert message.startswith("capture.toml: ")
    assert expected in message


def test_invalid_toml_names_line() -> None:
    message = str(parse_error("[installed]\nnumpy = \n", "c.toml"))
    assert message.startswith("c.toml:2: invalid TOML")


def test_toml_without_installed_table() -> None:
    message = str(parse_error('[target]\npython = "3.12"\n', "c.toml"))
    assert message.startswith("c.toml: has no [installed] table")
