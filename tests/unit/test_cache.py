"""The cache directory, atomic writes and the file locks of bundler.cache."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from bundler import cache
from bundler.cache import atomic_write, atomic_writer, cache_dir, file_lock, locks_path, take_lock


def test_cache_dir_env_override_and_default(tmp_path: Path) -> None:
    assert cache_dir({"KBUNDLE_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert cache_dir({}).name == "kbundle"


def test_atomic_write_leaves_only_complete_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.bin"
    atomic_write(target, b"complete")

    def interrupted_write() -> None:
        with atomic_writer(target) as handle:
            handle.write(b"half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_write()
    assert target.read_bytes() == b"complete"
    assert [p.name for p in target.parent.iterdir()] == ["b.bin"]


class Held:
    """An exclusive lock on ``path`` held through another open file (as another process would)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(self.fd, b"4242\n")

    def release(self) -> None:
        os.close(self.fd)


def test_atomic_write_gives_the_umask_mode_and_survives_a_removed_folder(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        target = tmp_path / "c" / "d.bin"
        atomic_write(target, b"one")
        assert target.stat().st_mode & 0o777 == 0o640
        # The folder is known now; removed behind the writer's back, it is made again.
        target.unlink()
        target.parent.rmdir()
        atomic_write(target, b"two")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["d.bin"]


def test_a_temporary_file_left_by_a_killed_process_does_not_block_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "e" / "f.bin"
    target.parent.mkdir()
    monkeypatch.setattr(cache, "_TEMP_NAMES", iter(range(3)))
    # A process with this pid died mid-write: its first temporary name is taken.
    stale = target.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-0.part")
    stale.write_bytes(b"half")
    atomic_write(target, b"whole")
    assert target.read_bytes() == b"whole"


def test_take_lock_free_and_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.lock"
    fd, waited = take_lock(path, on_wait=pytest.fail)
    other = os.open(path, os.O_RDWR)
    try:
        assert not waited
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)
        os.close(fd)


def test_take_lock_times_out_telling_once(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    held = Held(path)
    told: list[bytes] = []

    def on_timeout(fd: int) -> Exception:
        return RuntimeError(os.pread(fd, 10, 0).decode().strip())

    with pytest.raises(RuntimeError, match="4242"):
        take_lock(
            path,
            on_wait=lambda fd: told.append(os.pread(fd, 10, 0)),
            timeout=0.3,
            on_timeout=on_timeout,
        )
    assert told == [b"4242\n"]  # once, however often it polled
    told.clear()
    with pytest.raises(TimeoutError):
        take_lock(path, on_wait=lambda fd: told.append(b""), timeout=0)
    assert told == []  # no time to wait: nothing to say
    held.release()


def test_take_lock_after_waiting_locks_the_current_file(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    held = Held(path)
    result: list[tuple[int, bool]] = []
    waiting = threading.Event()
    thread = threading.Thread(
        target=lambda: result.append(take_lock(path, on_wait=lambda fd: waiting.set()))
    )
    thread.start()
    assert waiting.wait(10)
    # The holder replaces the file before letting go (as a commit or a lib
    # lock does): a lock on the old inode would protect nothing.
    path.rename(tmp_path / "gone")
    held.release()
    thread.join(10)
    ((fd, waited),) = result
    try:
        assert waited
        assert locks_path(fd, path)
    finally:
        os.close(fd)


def test_file_lock_waits_for_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "entry.lock"
    held = Held(path)
    inside = threading.Event()

    def enter() -> None:
        with file_lock(path):
            inside.set()

    thread = threading.Thread(target=enter)
    thread.start()
    assert not inside.wait(0.2)
    held.release()
    thread.join(10)
    assert inside.is_set()
    assert path.exists()  # only a name: it stays
