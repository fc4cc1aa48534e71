"""`kbundle vendor --wheelhouse` from the user's side (the requirements file it
writes: tests/unit/test_wheelhouse.py)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.run import run_cli


def test_wheelhouse_refuses_a_foreign_folder_and_a_lib_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep")
    both = run_cli("vendor", "x", "-t", "lib", "--wheelhouse", str(folder), cwd=tmp_path)
    assert both.exit_code == 2 and "give one of them" in both.stderr
    assert (folder / "mine.txt").read_text() == "keep"
