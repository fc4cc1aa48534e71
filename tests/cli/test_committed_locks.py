"""The example's committed locks stay valid for their targets (`kbundle check`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.toml_table import tomllib
from tests.helpers.run import REPO, run_cli

LOCKS = sorted((REPO / "lockfiles").glob("pylock.*.toml"))


def test_the_example_has_locks_for_both_kaggle_gpu_images() -> None:
    names = {p.name for p in LOCKS}
    assert "pylock.llama-agent.kaggle-gpu-2026.toml" in names
    assert "pylock.llama-agent.kaggle-gpu-2024.toml" in names


@pytest.mark.parametrize("lock", LOCKS, ids=[p.name for p in LOCKS])
def test_committed_lock_checks_clean(lock: Path) -> None:
    target = tomllib.loads(lock.read_text())["tool"]["kbundle"]["target"]
    res = run_cli("check", "--lock", str(lock), "--target", target, "--strict")
    assert res.exit_code == 0, (
        f"{lock.name} is stale for {target}: re-lock it from examples/llama_agent "
        f"(see its README).\n{res.stderr}"
    )
