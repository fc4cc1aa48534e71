"""Shared fixtures: an isolated environment and ways to run the CLI as a user does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bundler.cli import cli
from tests.helpers.run import Result

# Shared fixtures of the index-layer tests (tests/helpers/index_fixtures.py).
pytest_plugins = ["tests.helpers.index_fixtures"]


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private cache, and no pip configuration or PYTHONPATH leaking in from the machine."""
    monkeypatch.setenv("KBUNDLE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    for key in list(os.environ):
        if key.startswith("PIP_") and key != "PIP_CERT":
            monkeypatch.delenv(key)
    monkeypatch.delenv("KBUNDLE_DEBUG", raising=False)
    # An inherited PYTHONPATH reaches the subprocesses tests start (kbundle, a
    # venv's python) and can shadow what a lib or an image provides.
    monkeypatch.delenv("PYTHONPATH", raising=False)


@pytest.fixture
def kbundle() -> object:
    """Run ``kbundle ARGS`` in-process through click (fast, same code path)."""

    def run(*args: str, cwd: Path | None = None) -> Result:
        runner = CliRunner()
        old = Path.cwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            res = runner.invoke(cli, list(args), catch_exceptions=False)
        finally:
            os.chdir(old)
        return Result(res.exit_code, res.stdout, res.stderr)

    return run
