"""Start-up cost: what `kbundle --version` and a warm lock import (not how long they take)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bundler.cli import cli
from tests.helpers.index_server import IndexServer
from tests.helpers.run import REPO, run_cli
from tests.helpers.wheels import build_wheel

# Libraries only some paths need: drawing (rich), the network (urllib3), ELF
# files (pyelftools), source builds (build).
HEAVY = ("rich", "urllib3", "elftools", "build")


def _modules_after(args: list[str], cwd: Path = REPO, *, full: bool = False) -> set[str]:
    """Top-level packages (every module with ``full``) imported by running
    ``kbundle ARGS`` in a fresh interpreter."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.argv = ["kbundle", *{args!r}]
        from bundler.__main__ import main
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
        names = sys.modules if {full!r} else {{m.split(".")[0] for m in sys.modules}}
        print(json.dumps(sorted(names)))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_version_is_answered_without_click_and_says_what_click_says() -> None:
    modules = _modules_after(["--version"])
    assert not modules & {"click", "packaging", *HEAVY}, modules
    proc = subprocess.run(
        [sys.executable, "-m", "bundler", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout == CliRunner().invoke(cli, ["--version"]).stdout
    assert proc.stdout == CliRunner().invoke(cli, ["-V"]).stdout


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "index" / "simple"
    build_wheel(simple, "zz-app", "1.0", requires=["zz-helper>=1"])
    build_wheel(simple, "zz-helper", "2.0")
    with IndexServer({"simple": simple}) as server:
        yield server


def test_a_warm_lock_imports_no_network_drawing_elf_or_build_library(
    index: IndexServer, tmp_path: Path
) -> None:
    args = ["lock", "zz-app", "--target", "kaggle-t4", "-i", index.index_url()]
    cold = run_cli(*args, "-o", str(tmp_path / "cold.toml"), cwd=tmp_path)
    assert cold.exit_code == 0, cold.stderr
    before = len(index.requests())

    modules = _modules_after([*args, "-o", str(tmp_path / "warm.toml"), "--json", "-q"], tmp_path)

    assert len(index.requests()) == before  # warm indeed: not one request
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    assert "zz-helper" in (tmp_path / "warm.toml").read_text()


def test_a_warm_vendor_links_without_installer_or_network(
    index: IndexServer, tmp_path: Path
) -> None:
    args = ["vendor", "zz-app", "--target", "kaggle-t4", "-i", index.index_url()]
    cold = run_cli(*args, "--lock", str(tmp_path / "cold.toml"), "-t", str(tmp_path / "one"))
    assert cold.exit_code == 0, cold.stderr
    before = len(index.requests())

    warm = [*args, "--lock", str(tmp_path / "warm.toml"), "-t", str(tmp_path / "two"), "-q"]
    modules = _modules_after(warm, tmp_path, full=True)

    assert len(index.requests()) == before
    top = {m.split(".")[0] for m in modules}
    assert not top & {*HEAVY, "installer"}, sorted(top & {*HEAVY, "installer"})
    # Wheels only, from a JSON index: neither the build stage nor an HTML parser loads.
    unneeded = {m for m in modules if m.startswith(("bundler.build", "html.parser"))}
    assert not unneeded, sorted(unneeded)
    assert (tmp_path / "two" / "kbundle.json").is_file()


def test_a_report_off_a_terminal_is_printed_without_rich(
    index: IndexServer, tmp_path: Path
) -> None:
    args = ["lock", "zz-app", "--target", "kaggle-t4", "-i", index.index_url()]
    # stderr is a pipe here, as in CI or a log: the table is plain text.
    modules = _modules_after([*args, "-o", str(tmp_path / "pylock.toml")], tmp_path)
    assert "rich" not in modules
    shown = run_cli(*args, "-o", str(tmp_path / "again.toml"), cwd=tmp_path)
    assert shown.stderr.splitlines()[0].split() == ["package", "version", "source", "download"]
