"""Tests for bundler.target.manifest.json_list: pip list --format=json as a manifest."""

from __future__ import annotations

import json
import re

import pytest

from bundler.target.manifest import InstalledDist, parse_manifest
from tests.helpers.manifest import SRC, parse_error, versions


def test_pip_list_json() -> None:
    data = [
        {"name": "NumPy", "version": "2.0.2"},
        {"name": "my_tool", "version": "0.1", "editable_project_location": "/src/my_tool"},
        {"name": "legacy", "version": "1.0-custom-x"},
    ]
    manifest = parse_manifest(json.dumps(data), SRC)
    assert manifest == {
        "legacy": InstalledDist("legacy", "1.0-custom-x"),
        "my-tool": InstalledDist("my-tool", "0.1", url="/src/my_tool"),
        "numpy": InstalledDist("numpy", "2.0.2"),
    }
    assert parse_manifest("\ufeff[]\r\n", SRC) == {}
    pretty = json.dumps([{"name": "a", "version": "1"}], indent=2)
    assert versions(pretty) == {"a": "1"}


def test_invalid_json_names_line() -> None:
    message = str(parse_error('[\n  {"name": "a", "version": "1"},\n  {"name": \n]\n', "l.json"))
    assert re.match(r"l\.json:4: invalid JSON", message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "a"}', "expected a JSON list"),
        ('[{"name": "a"}]', "entry 1"),
        ('[{"name": "a", "version": "1"}, "b"]', "entry 2"),
        ('[{"name": "a", "version": ""}]', "entry 1"),
        ('[{"name": "a", "version": "1"}, {"name": "A", "version": "2"}]', "entries 1 and 2"),
    ],
)
def test_bad_json_entries(text: str, expected: str) -> None:
    message = str(parse_error(text, "l.json"))
    assert message.startswith("l.json: ")
    assert expected in message
