"""Shared fixtures: an isolated environment and ways to run the CLI as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bundler.cli import cli

REPO = Path(__file__).resolve().parents[1]
SHARED_TARGETS = REPO.parent / "shared" / "targets"


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private cache and no pip configuration leaking in from the machine."""
    monkeypatch.setenv("KBUNDLE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    for key in list(os.environ):
        if key.startswith("PIP_") and key != "PIP_CERT":
            monkeypatch.delenv(key)
    monkeypatch.delenv("KBUNDLE_DEBUG", raising=False)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


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


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run the real ``kbundle`` console entry point in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "bundler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
