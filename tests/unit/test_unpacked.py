"""The cache of unpacked wheels: one verified entry per wheel, libs built by links."""

from __future__ import annotations

import errno
import hashlib
import json
import stat
import zipfile
from pathlib import Path

import pytest

import bundler.vendor.install
from bundler.cache import cache_dir
from bundler.vendor.install import BadWheelError, FileCollisionError, install_wheels
from bundler.vendor.unpacked import LAYOUT, unpacked_wheel
from tests.helpers.interrupt import kill_mid_unpack
from tests.helpers.wheels import build_wheel


def _rewrite(wheel: Path, changes: dict[str, bytes]) -> None:
    """Replace members of ``wheel`` without touching its RECORD."""
    with zipfile.ZipFile(wheel) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members.update(changes)
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _entries(cache: Path) -> list[Path]:
    """Completed entries (folders with an entry.json) in the cache."""
    return sorted(p.parent for p in (cache / LAYOUT).glob("*/*/entry.json"))


def _leftovers(cache: Path) -> list[str]:
    """Half-built or discarded entries."""
    return sorted(
        p.name for p in (cache / LAYOUT).glob("*/*") if ".tmp" in p.name or ".old-" in p.name
    )


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    return build_wheel(
        tmp_path / "w",
        "pkg",
        "1.0",
        files={
            "pkg/__init__.py": b"VALUE = 1\n",
            "pkg-1.0.dist-info/entry_points.txt": b"[console_scripts]\npkg-run = pkg:main\n",
        },
    )


def test_lib_files_are_hard_links_to_one_cached_copy(tmp_path: Path, pkg: Path) -> None:
    first, second = tmp_path / "lib1", tmp_path / "lib2"
    install_wheels([pkg], first)
    install_wheels([pkg], second)

    [entry] = _entries(cache_dir())
    cached = entry / "tree" / "pkg" / "__init__.py"
    for lib in (first, second):
        assert (lib / "pkg/__init__.py").stat().st_ino == cached.stat().st_ino
        assert (lib / "pkg-1.0.dist-info/INSTALLER").read_text() == "kbundle\n"
        script = lib / "bin/pkg-run"
        assert script.read_bytes().startswith(b"#!/usr/bin/env python3\n")
        assert script.stat().st_mode & stat.S_IXUSR
    assert cached.stat().st_nlink == 3


def test_a_warm_install_with_a_known_hash_does_not_read_the_wheel(
    tmp_path: Path, pkg: Path
) -> None:
    sha = hashlib.sha256(pkg.read_bytes()).hexdigest()
    install_wheels([pkg], tmp_path / "lib1", hashes={pkg: sha})
    pkg.unlink()  # nothing left to read: the entry alone must do
    [installed] = install_wheels([pkg], tmp_path / "lib2", hashes={pkg: sha})
    assert "pkg/__init__.py" in installed.files
    assert (tmp_path / "lib2/pkg/__init__.py").read_text() == "VALUE = 1\n"


def test_an_edit_through_a_lib_is_detected_and_the_entry_rebuilt(tmp_path: Path, pkg: Path) -> None:
    install_wheels([pkg], tmp_path / "lib1")
    edited = tmp_path / "lib1/pkg/__init__.py"
    with edited.open("r+b") as handle:  # in place: the cache's inode changes too
        handle.write(b"EVIL")
    [entry] = _entries(cache_dir())
    assert (entry / "tree/pkg/__init__.py").read_bytes().startswith(b"EVIL")

    install_wheels([pkg], tmp_path / "lib2")

    assert (tmp_path / "lib2/pkg/__init__.py").read_text() == "VALUE = 1\n"
    assert (tmp_path / "lib2/pkg/__init__.py").stat().st_ino != edited.stat().st_ino
    assert _entries(cache_dir()) == [entry]
    assert _leftovers(cache_dir()) == []


@pytest.mark.parametrize("damage", ["truncate", "delete-file", "delete-manifest", "bad-manifest"])
def test_a_damaged_entry_is_rebuilt(tmp_path: Path, pkg: Path, damage: str) -> None:
    install_wheels([pkg], tmp_path / "lib1")
    [entry] = _entries(cache_dir())
    target = entry / "tree/pkg/__init__.py"
    if damage == "truncate":
        target.unlink()  # a new inode: lib1 keeps its copy
        target.write_bytes(b"")
    elif damage == "delete-file":
        target.unlink()
    elif damage == "delete-manifest":
        (entry / "entry.json").unlink()
    else:
        (entry / "entry.json").write_text("{not json")

    install_wheels([pkg], tmp_path / "lib2")
    assert (tmp_path / "lib2/pkg/__init__.py").read_text() == "VALUE = 1\n"
    assert json.loads((entry / "entry.json").read_text())["wheel"] == pkg.name


def test_a_bad_record_leaves_no_entry_and_no_lib_files(tmp_path: Path, pkg: Path) -> None:
    _rewrite(pkg, {"pkg/__init__.py": b"import os; os.system('curl evil')\n"})
    lib = tmp_path / "lib"
    with pytest.raises(BadWheelError, match=r"'pkg/__init__\.py': RECORD check failed"):
        install_wheels([pkg], lib)
    assert _entries(cache_dir()) == []
    assert _leftovers(cache_dir()) == []
    assert list(lib.iterdir()) == []


def test_a_wheel_clashing_with_a_cached_one_writes_nothing(tmp_path: Path) -> None:
    one = build_wheel(tmp_path / "w", "one", "1.0", files={"shared/util.py": b"A = 1\n"})
    two = build_wheel(tmp_path / "w", "two", "1.0", files={"shared/util.py": b"A = 2\n"})
    install_wheels([one], tmp_path / "warm")  # one is cached now, two is not
    lib = tmp_path / "lib"
    with pytest.raises(FileCollisionError, match=r"shared/util\.py: written by both"):
        install_wheels([one, two], lib)
    assert list(lib.iterdir()) == []


def test_a_file_of_a_bad_member_is_reported_with_all_others(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "two_bad", "1.0", files={"a.py": b"A\n", "b.py": b"B\n"})
    _rewrite(wheel, {"a.py": b"X\n", "b.py": b"Y\n"})
    with pytest.raises(BadWheelError) as caught:
        install_wheels([wheel], tmp_path / "lib")
    assert sorted(p.entry or "" for p in caught.value.problems) == ["a.py", "b.py"]


def test_shebang_scripts_are_checked_against_the_original_bytes(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path / "w",
        "raw",
        "1.0",
        files={"raw-1.0.data/scripts/raw-tool": b"#!python\nprint('raw')\n" * 2000},
    )
    lib = tmp_path / "lib"
    install_wheels([wheel], lib)
    assert (lib / "bin/raw-tool").read_bytes().startswith(b"#!/usr/bin/env python3\nprint")


def test_without_hard_links_the_files_are_copied(
    tmp_path: Path, pkg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(source: object, destination: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    install_wheels([pkg], tmp_path / "warm")
    monkeypatch.setattr(bundler.vendor.install.os, "link", no_link)
    lib = tmp_path / "lib"
    install_wheels([pkg], lib)

    [entry] = _entries(cache_dir())
    copied = lib / "pkg/__init__.py"
    assert copied.read_text() == "VALUE = 1\n"
    assert copied.stat().st_ino != (entry / "tree/pkg/__init__.py").stat().st_ino
    assert (lib / "bin/pkg-run").stat().st_mode & stat.S_IXUSR


def test_link_false_copies(tmp_path: Path, pkg: Path) -> None:
    install_wheels([pkg], tmp_path / "warm")
    install_wheels([pkg], tmp_path / "lib", link=False)
    assert (tmp_path / "lib/pkg/__init__.py").stat().st_nlink == 1


def test_an_unpack_killed_half_way_is_redone(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path / "w",
        "many",
        "1.0",
        files={f"many/m{i}.py": f"X = {i}\n".encode() for i in range(200)},
    )
    cache = tmp_path / "cache"
    marker = tmp_path / "halfway"
    # A real process, stopped for good after 100 members, then killed with SIGKILL.
    unpack_code = (
        "import bundler.vendor.unpacked as unpacked\n"
        f"unpacked.unpacked_wheel(Path({str(wheel)!r}), Path({str(cache)!r}))\n"
    )
    kill_mid_unpack(unpack_code, after=100, marker=marker, timeout=60)
    assert _entries(cache) == []
    [partial] = list((cache / LAYOUT).glob("*/*.tmp"))
    assert len(list((partial / "tree/many").iterdir())) >= 99

    entry = unpacked_wheel(wheel, cache)
    assert len([f for f in entry.files if f.path.startswith("many/")]) == 200
    assert not partial.exists()
    assert _leftovers(cache) == []
