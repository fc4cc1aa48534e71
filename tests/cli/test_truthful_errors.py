"""Errors that tell the truth, from the user's side: an index that cannot be
reached is reported as unreachable (and why), never as a missing package."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.helpers.run import run_cli


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_index_is_unreachable_not_an_unknown_package(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/simple"
    res = run_cli(
        "lock", "somepkg", "--target", "kaggle-cpu-2026", "-i", url, "-o", str(tmp_path / "l.toml")
    )
    assert res.exit_code == 1, res.stderr
    assert "is unreachable: the connection was refused" in res.stderr
    assert "knows" not in res.stderr and "Traceback" not in res.stderr


def test_unresolvable_index_host_says_dns(tmp_path: Path) -> None:
    res = run_cli(
        "lock", "somepkg", "--target", "kaggle-cpu-2026", "-i", "http://index.kbundle.invalid/simple",
        "-o", str(tmp_path / "l.toml"),
    )  # fmt: skip
    assert res.exit_code == 1, res.stderr
    assert "index.kbundle.invalid is unreachable" in res.stderr
    assert "knows" not in res.stderr and "Traceback" not in res.stderr
