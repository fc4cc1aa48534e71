"""bundler.cache_admin: measuring kbundle's cache, cleaning and pruning it, and its lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bundler.cache import CACHE_LOCK, use_cache
from bundler.cache_admin import TEMPORARY, clean, is_temporary, prune, usage
from bundler.vendor.unpacked import LAYOUT


def _file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A cache with an entry in each section, and what interrupted runs leave."""
    root = tmp_path / "cache"
    _file(root / "http" / "ab" / "abcd", 100)
    _file(root / "http" / "ab" / ".tmp-1-2-3.part", 7)  # an atomic write cut short
    _file(root / "metadata" / "sha256" / "cd" / "cdef", 50)
    _file(root / "metadata" / "prepared" / "ef01.tmp", 5)
    _file(root / "files" / "12" / "1234" / "a-1.0-py3-none-any.whl", 1000)
    _file(root / "files" / "12" / "5678" / "big-1.0.tar.gz.part", 300)  # a download to resume
    entry = root / LAYOUT / "34" / "3456"
    _file(entry / "entry.json", 20)
    # A wheel's own file that merely looks like a temporary: not one.
    _file(entry / "tree" / "pkg" / "data.part", 400)
    _file(entry / "tree" / "pkg" / "__init__.py", 10)
    _file(root / LAYOUT / "34" / "9999.tmp" / "tree" / "half.py", 30)  # a killed unpack
    _file(root / LAYOUT / "34" / "3456.lock", 0)
    _file(root / "builds" / "good" / "llama-1.0-py3-none-linux_x86_64.whl", 2000)
    _file(root / "builds" / "good" / "build.log", 10)
    _file(root / "builds" / "failed" / "build.log", 60)  # a failed build: its log only
    _file(root / "build-envs" / "env1" / "lib" / "site.part", 500)  # inside a venv
    _file(root / "local-sha256" / "aa" / "aabb", 64)
    _file(root / "kbundle-fetch-xyz" / "a-1.0-py3-none-any.whl", 1000)
    _file(root / "unpacked-v0" / "old" / "f.py", 70)  # an older layout
    _file(root / "notes.txt", 3)  # not kbundle's
    _file(root / CACHE_LOCK, 0)
    return root


def test_usage_counts_each_section_and_what_interrupted_runs_left(cache: Path) -> None:
    found = usage(cache)

    sizes = {name: (part.size, part.files) for name, part in found.sections.items()}
    assert sizes == {
        "http": (100, 1),
        "metadata": (50, 1),
        "files": (1000, 1),
        "unpacked": (430, 4),  # entry.json, two tree files, the lock file (0 bytes)
        "builds": (2070, 3),
        "build-envs": (500, 1),
        "hashes": (64, 1),
        TEMPORARY: (7 + 5 + 300 + 30 + 1000 + 70, 6),
    }
    assert found.foreign == ("notes.txt",)
    assert found.size == sum(size for size, _ in sizes.values())


def test_a_file_hard_linked_into_a_lib_counts_once_and_as_linked(cache: Path) -> None:
    tree = cache / LAYOUT / "34" / "3456" / "tree" / "pkg"
    os.link(tree / "data.part", tree / "copy.part")  # the unpacked cache shares big files
    lib = cache.parent / "lib"
    lib.mkdir()
    os.link(tree / "__init__.py", lib / "__init__.py")

    part = usage(cache).sections["unpacked"]

    assert (part.size, part.files) == (430, 5)
    assert part.linked == 10  # only the file a lib also names


def test_temporary_names() -> None:
    for name in (".tmp-1-2-3.part", "x.whl.part", "3456.tmp", "3456.old-1f2e", "kbundle-fetch-abc"):
        assert is_temporary(name), name
    for name in ("x.whl", "entry.json", "3456.lock", "tmp"):
        assert not is_temporary(name), name


def test_prune_removes_only_what_no_run_needs(cache: Path) -> None:
    removed = prune(cache)

    assert removed.sections[TEMPORARY].size == 7 + 5 + 300 + 30 + 1000 + 70 + 60
    left = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    assert left == sorted(
        [
            CACHE_LOCK,
            "notes.txt",
            "http/ab/abcd",
            "metadata/sha256/cd/cdef",
            "files/12/1234/a-1.0-py3-none-any.whl",
            f"{LAYOUT}/34/3456/entry.json",
            f"{LAYOUT}/34/3456/tree/pkg/data.part",
            f"{LAYOUT}/34/3456/tree/pkg/__init__.py",
            f"{LAYOUT}/34/3456.lock",
            "builds/good/llama-1.0-py3-none-linux_x86_64.whl",
            "builds/good/build.log",
            "build-envs/env1/lib/site.part",
            "local-sha256/aa/aabb",
        ]
    )
    assert prune(cache).files == 0  # nothing more the second time


def test_prune_for_ci_keeps_the_built_wheels_and_small_caches(cache: Path) -> None:
    removed = prune(cache, ci=True)

    assert set(removed.sections) == {TEMPORARY, "files", "unpacked", "build-envs"}
    assert not (cache / "files").exists() and not (cache / LAYOUT).exists()
    assert not (cache / "build-envs").exists()
    assert (cache / "builds" / "good" / "llama-1.0-py3-none-linux_x86_64.whl").is_file()
    assert (cache / "http" / "ab" / "abcd").is_file()
    assert (cache / "metadata" / "sha256" / "cd" / "cdef").is_file()


def test_clean_of_named_sections(cache: Path) -> None:
    removed = clean(cache, ["http", "builds"])

    assert {n: p.size for n, p in removed.sections.items()} == {"http": 107, "builds": 2070}
    assert not (cache / "http").exists() and not (cache / "builds").exists()
    assert (cache / "files").is_dir() and (cache / "kbundle-fetch-xyz").is_dir()


def test_clean_of_everything_leaves_the_lock_and_what_is_not_kbundles(cache: Path) -> None:
    before = usage(cache).size

    removed = clean(cache)

    assert removed.size == before  # every byte: the sections whole, the temporaries too
    assert sorted(p.name for p in cache.iterdir()) == sorted([CACHE_LOCK, "notes.txt"])
    assert removed.foreign == ("notes.txt",)
    assert usage(cache).size == 0


def test_clean_of_a_missing_cache_creates_nothing(tmp_path: Path) -> None:
    assert clean(tmp_path / "none").files == 0
    assert not (tmp_path / "none").exists()


def test_clean_waits_for_a_command_that_uses_the_cache(cache: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib\nfrom bundler.cache import use_cache\n"
            f"use_cache(pathlib.Path({str(cache)!r}))\nprint('held', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        waited = threading.Event()
        worker = threading.Thread(target=lambda: clean(cache, on_wait=waited.set))
        worker.start()
        assert waited.wait(10)
        worker.join(0.5)
        assert worker.is_alive() and (cache / "http").is_dir()  # nothing removed yet
    finally:
        assert holder.stdin is not None
        holder.stdin.close()  # the command ends, its lock goes with it
        holder.wait(10)
    worker.join(10)
    assert not worker.is_alive() and not (cache / "http").exists()


def test_use_cache_on_a_cache_that_cannot_be_made_is_no_error(tmp_path: Path) -> None:
    blocker = _file(tmp_path / "file", 1)
    use_cache(blocker / "cache")  # the first write will say what is wrong, not this
