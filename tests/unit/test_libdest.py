"""bundler.vendor.libdest on its own: which folders may be replaced, and the lock file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bundler.errors import InputError
from bundler.vendor.libdest import LibLocked, check_destination, lib_lock, lock_path


def test_missing_empty_and_kbundle_libs_may_be_replaced(tmp_path: Path) -> None:
    assert check_destination(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert check_destination(tmp_path / "empty") == tmp_path / "empty"
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "kbundle.json").write_text("{}")
    (lib / "kbundle_boot.py").write_text("")
    (lib / "pkg.py").write_text("")
    (lib / "pkg-1.0.dist-info").mkdir()
    (lib / "pkg-1.0.dist-info" / "RECORD").write_text("pkg.py,,\npkg-1.0.dist-info/RECORD,,\n")
    assert check_destination(lib) == lib
    (lib / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"holds files kbundle did not install \(notes.txt\)"):
        check_destination(lib)
    assert check_destination(lib, force=True) == lib


def test_other_folders_need_force(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(5):
        (folder / f"f{i}.txt").write_text("")
    with pytest.raises(InputError, match=r"f0.txt, f1.txt, f2.txt and 2 more"):
        check_destination(folder)
    assert check_destination(folder, force=True) == folder


def test_relative_and_symlinked_paths_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_destination(Path("sub/lib")) == tmp_path / "sub" / "lib"
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(InputError, match=r"link \(-> .*real\) is not empty"):
        check_destination(Path("link"))


def test_never_the_root_a_mount_point_or_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="mount point"):
        check_destination(Path("/"), force=True)
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match="not a folder"):
        check_destination(tmp_path / "f", force=True)


def test_the_lock_is_exclusive_and_cleaned_up(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    told: list[str] = []
    with lib_lock(lib):
        assert lock_path(lib).read_text().strip() == str(os.getpid())
        # flock locks belong to the open file: a second open in this process conflicts.
        with (
            pytest.raises(LibLocked, match=f"pid {os.getpid()}"),
            lib_lock(lib, environ={"KBUNDLE_LOCK_TIMEOUT": "0.3"}, on_wait=told.append),
        ):
            pass
    assert told and "waiting for another kbundle run" in told[0]
    assert not lock_path(lib).exists()
    with lib_lock(lib):  # free again
        pass


def test_an_unwritable_place_is_bad_input() -> None:
    if not Path("/proc/self").exists():
        pytest.skip("no /proc on this machine")
    with pytest.raises(InputError, match="cannot write in /proc"), lib_lock(Path("/proc/xlib")):
        pass
