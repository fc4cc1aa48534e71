"""How reports show paths and counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.cli.report import plural, show_path


def test_show_path_normalises_and_shortens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "examples" / "agent").mkdir(parents=True)
    monkeypatch.chdir(project)
    assert show_path("examples/agent/../../lockfiles/pylock.x.toml") == "lockfiles/pylock.x.toml"
    assert show_path(project) == "."
    assert show_path(tmp_path / "elsewhere" / ".." / "other") == str(tmp_path / "other")
    # Lexical: a symlinked folder keeps the name the user gave it.
    (tmp_path / "real").mkdir()
    (project / "link").symlink_to(tmp_path / "real")
    assert show_path("link/lib") == "link/lib"


def test_plural() -> None:
    assert plural(1, "package") == "1 package"
    assert plural(0, "package") == "0 packages"
    assert plural(3, "library", "libraries") == "3 libraries"
