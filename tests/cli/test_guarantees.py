"""The README's "What kbundle guarantees": every promise points to a real test,
and the first-index rule holds from the command line."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index_server import IndexServer
from tests.helpers.run import REPO, run_cli
from tests.helpers.wheels import build_wheel

TARGET = 'format = 1\nname = "t"\npython_full_version = "3.12.3"\nglibc = "2.35"\n'


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_every_guarantee_points_to_an_existing_test() -> None:
    section = _section((REPO / "README.md").read_text(), "What kbundle guarantees")
    promises = re.findall(r"^- \*\*(.+?)\*\*", section, flags=re.MULTILINE)
    for needed in ("Atomic lib", "Locked lib", "Refused wheels", "First-index rule", "Exit codes"):
        assert any(p.startswith(needed) for p in promises), needed
    for block in re.split(r"^- ", section, flags=re.MULTILINE)[1:]:
        refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", block)
        assert refs, f"a promise without a test: {block[:60]}"
        for path, name in refs:
            tree = ast.parse((REPO / path).read_text())
            names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert name in names, f"{path}::{name} does not exist"


@pytest.fixture
def indexes(tmp_path: Path) -> Iterator[IndexServer]:
    first, second = tmp_path / "first", tmp_path / "second"
    build_wheel(first, "helper", "2.0")
    build_wheel(second, "helper", "99.0")  # a higher version on a later index
    build_wheel(second, "other", "1.0")
    with IndexServer({"first": first, "second": second}) as server:
        yield server


def test_the_first_index_that_knows_a_name_wins(indexes: IndexServer, tmp_path: Path) -> None:
    target = tmp_path / "t.toml"
    target.write_text(TARGET)
    res = run_cli(
        "lock",
        "helper",
        "other",
        "--target",
        str(target),
        "-i",
        indexes.index_url("first"),
        "--extra-index-url",
        indexes.index_url("second"),
        "-o",
        str(tmp_path / "pylock.toml"),
        "--json",
    )
    assert res.exit_code == 0, res.stderr
    got = {p["name"]: (p["version"], p["url"]) for p in json.loads(res.stdout)["packages"]}
    assert got["helper"][0] == "2.0" and "/first/" in got["helper"][1]
    assert got["other"][0] == "1.0" and "/second/" in got["other"][1]  # only the second has it
