"""`kbundle cache` from the user's side: what a vendor left, cleaning it, and the lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.image import capture, image_venv
from tests.helpers.index_server import IndexServer
from tests.helpers.run import Result, run_cli


@pytest.fixture
def index(app_index: IndexServer) -> IndexServer:
    return app_index


def _vendor(index: IndexServer, tmp_path: Path, lib: Path) -> Result:
    target = tmp_path / "image.toml"
    if not target.exists():
        capture(image_venv(tmp_path, {}), target)
    args = ("--target", str(target), "-i", index.index_url(), "--lock", str(tmp_path / "l.toml"))
    return run_cli("vendor", "app", *args, "-t", str(lib), "-q")


def _sections() -> dict[str, dict[str, int]]:
    res = run_cli("cache", "info", "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["root"] == os.environ["KBUNDLE_CACHE_DIR"]
    return {s["name"]: s for s in doc["sections"]}


def test_info_then_clean_keeps_the_vendored_lib_working(index: IndexServer, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    assert _vendor(index, tmp_path, lib).exit_code == 0

    sections = _sections()
    assert sections["http"]["files"] > 0 and sections["files"]["files"] == 3
    # The lib was linked from the unpacked wheels: those bytes stay in the lib.
    assert 0 < sections["unpacked"]["linked"] <= sections["unpacked"]["size"]
    shown = run_cli("cache", "info")
    assert "unpacked" in shown.stdout and "hard-linked into libs" in shown.stdout

    cleaned = run_cli("cache", "clean")

    assert cleaned.exit_code == 0, cleaned.stderr
    assert cleaned.stdout.startswith("removed ") and "stays on disk in the libs" in cleaned.stdout
    assert all(s["files"] == 0 for s in _sections().values())
    helper = (lib / "helper.py").read_text()
    assert helper == "X = 41\n"  # the lib's own link survived the cache
    again = _vendor(index, tmp_path, tmp_path / "lib2")  # and the next run fetches again
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "lib2" / "helper.py").read_text() == helper


def test_clean_of_one_section_and_prune_for_ci(index: IndexServer, tmp_path: Path) -> None:
    assert _vendor(index, tmp_path, tmp_path / "lib").exit_code == 0

    res = run_cli("cache", "clean", "http")
    assert res.exit_code == 0 and res.stdout.startswith("removed ") and "http" in res.stdout
    assert run_cli("cache", "clean", "http").stdout.startswith("nothing to remove")
    res = run_cli("cache", "prune", "--ci")
    assert res.exit_code == 0, res.stderr

    sections = _sections()
    assert sections["http"]["files"] == 0
    assert sections["files"]["files"] == sections["unpacked"]["files"] == 0
    assert sections["metadata"]["files"] > 0  # kept: small, and it spares the next lock


def test_an_unknown_section_is_refused_with_the_list(tmp_path: Path) -> None:
    res = run_cli("cache", "clean", "wheels")

    assert res.exit_code == 2
    assert "'wheels' is not one of" in res.stderr and "unpacked" in res.stderr
    assert "Traceback" not in res.stderr


def test_dir_prints_the_cache_in_use() -> None:
    res = run_cli("cache", "dir")
    assert (res.exit_code, res.stdout) == (0, os.environ["KBUNDLE_CACHE_DIR"] + "\n")


def test_clean_waits_for_a_running_lock(tmp_path: Path) -> None:
    cache = Path(os.environ["KBUNDLE_CACHE_DIR"])
    (cache / "http").mkdir(parents=True)
    (cache / "http" / "page").write_bytes(b"x")
    # A running command holds the cache lock shared, as `kbundle lock` does.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom bundler.cache import use_cache\nuse_cache()\n"
            "print('held', flush=True)\nsys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    cleaner = subprocess.Popen(
        [sys.executable, "-m", "bundler", "cache", "clean"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    assert cleaner.poll() is None and (cache / "http" / "page").exists()
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(10)
    out, err = cleaner.communicate(timeout=30)

    assert cleaner.returncode == 0, err
    assert "waiting for other kbundle commands" in err
    assert out.startswith("removed 1 B in 1 file")
    assert not (cache / "http").exists()


def test_prune_removes_what_a_killed_vendor_left(index: IndexServer, tmp_path: Path) -> None:
    assert _vendor(index, tmp_path, tmp_path / "lib").exit_code == 0
    cache = Path(os.environ["KBUNDLE_CACHE_DIR"])
    leftover = cache / "kbundle-fetch-killed"
    leftover.mkdir()
    (leftover / "app-1.0-py3-none-any.whl").write_bytes(b"12345")
    kept = _sections()

    res = run_cli("cache", "prune")

    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith("removed 5 B in 1 file") and "temporary" in res.stdout
    assert not leftover.exists()
    assert {n: s["files"] for n, s in _sections().items()} == {
        **{n: s["files"] for n, s in kept.items()},
        "temporary": 0,
    }
    assert run_cli("cache", "prune").stdout.startswith("nothing to prune")
