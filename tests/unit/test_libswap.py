"""Atomic lib replacement: unit tests, and SIGKILL at many points followed by recover()."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bundler.errors import KbundleError
from bundler.vendor import libswap
from bundler.vendor.libswap import recover, staging_dir, swap_into_place
from tests.helpers.run import REPO

OLD = {f"pkg{i % 5}/old{i}.py": f"old {i}\n" for i in range(150)}
NEW = {f"pkg{i % 7}/new{i}.py": f"new {i}\n" for i in range(300)}


def _fill(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


def _unsupported(old: bytes, new: bytes, flags: int) -> None:
    raise OSError(errno.EINVAL, "Invalid argument")


def _exchange_supported(tmp_path: Path) -> bool:
    a, b = tmp_path / "probe-a", tmp_path / "probe-b"
    a.mkdir()
    b.mkdir()
    try:
        libswap._exchange(a, b)
    except OSError:
        return False
    finally:
        a.rmdir()
        b.rmdir()
    return True


def test_staging_dir_is_a_fresh_hidden_sibling_with_normal_permissions(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "lib"
    first, second = staging_dir(dest), staging_dir(dest)
    assert first != second
    for path in (first, second):
        assert path.parent == dest.parent and path.is_dir()
        assert path.name.startswith(".lib.kbundle-new-")
        assert list(path.iterdir()) == []
    umask = os.umask(0)
    os.umask(umask)
    assert first.stat().st_mode & 0o777 == 0o777 & ~umask


def test_swap_when_dest_does_not_exist(tmp_path: Path) -> None:
    dest = tmp_path / "lib"
    staging = staging_dir(dest)
    _fill(staging, NEW)
    swap_into_place(staging, dest)
    assert _snapshot(dest) == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib"]


@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_swap_replaces_old_lib_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    if mode == "exchange" and not _exchange_supported(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not supported on this kernel/filesystem")
    if mode == "fallback":
        monkeypatch.setattr(libswap, "_renameat2", _unsupported)
    dest = tmp_path / "lib"
    _fill(dest, OLD)
    staging = staging_dir(dest)
    _fill(staging, NEW)

    swap_into_place(staging, dest)

    assert _snapshot(dest) == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib"]
    assert recover(dest) == []


def test_exchange_failure_other_than_unsupported_leaves_dest_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(old: bytes, new: bytes, flags: int) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(libswap, "_renameat2", denied)
    dest = tmp_path / "lib"
    _fill(dest, OLD)
    staging = staging_dir(dest)
    _fill(staging, NEW)
    with pytest.raises(KbundleError, match="could not move the new lib into place"):
        swap_into_place(staging, dest)
    assert _snapshot(dest) == OLD
    assert _snapshot(staging) == NEW


def test_staging_must_be_beside_dest(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(KbundleError, match="is not beside"):
        swap_into_place(elsewhere, tmp_path / "sub" / "lib")


def test_recover_with_nothing_to_do(tmp_path: Path) -> None:
    assert recover(tmp_path / "lib") == []
    assert recover(tmp_path / "missing-parent" / "lib") == []


def test_recover_restores_old_lib_when_dest_is_missing(tmp_path: Path) -> None:
    dest = tmp_path / "lib"
    _fill(tmp_path / ".lib.kbundle-old-1234", OLD)
    _fill(tmp_path / ".lib.kbundle-new-abcd", NEW)
    (tmp_path / ".other.kbundle-new-zz").mkdir()  # another dest's leftover: untouched

    notes = recover(dest)

    assert _snapshot(dest) == OLD
    assert any("restored the previous" in note for note in notes)
    assert any(".lib.kbundle-new-abcd" in note for note in notes)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.kbundle-new-zz", "lib"]


def test_recover_deletes_old_copies_when_dest_exists(tmp_path: Path) -> None:
    dest = tmp_path / "lib"
    _fill(dest, NEW)
    _fill(tmp_path / ".lib.kbundle-old-1234", {"half/deleted.py": "old\n"})
    notes = recover(dest)
    assert _snapshot(dest) == NEW
    assert notes == [f"removed previous lib {tmp_path / '.lib.kbundle-old-1234'}"]


def test_recover_refuses_to_guess_between_several_old_copies(tmp_path: Path) -> None:
    (tmp_path / ".lib.kbundle-old-1").mkdir()
    (tmp_path / ".lib.kbundle-old-2").mkdir()
    with pytest.raises(KbundleError, match="several previous copies"):
        recover(tmp_path / "lib")


# The child process builds a new lib in staging and swaps it in; "pause" makes
# it stop (and announce it) at one exact point so the parent can SIGKILL it there.
CHILD = """
import errno, shutil, sys, time
from pathlib import Path
from bundler.vendor import libswap

dest, count, mode, pause = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

def stop(tag):
    print(tag, flush=True)
    time.sleep(120)

if mode == "fallback":
    def unsupported(old, new, flags):
        raise OSError(errno.EINVAL, "Invalid argument")
    libswap._renameat2 = unsupported
if pause == "between":
    real_rename = Path.rename
    def rename(self, target):
        result = real_rename(self, target)
        if ".kbundle-old-" in str(target):
            stop("between")
        return result
    Path.rename = rename
if pause == "deleting":
    real_rmtree = shutil.rmtree
    def rmtree(path, *args, **kwargs):
        # Delete a part of the old tree, then die in the middle of it.
        victims = sorted(p for p in Path(path).rglob("*.py"))[: len(NEW) // 3 or 1]
        for victim in victims:
            victim.unlink()
        stop("deleting")
    shutil.rmtree = rmtree

NEW = [(f"pkg{i % 7}/new{i}.py", f"new {i}\\n") for i in range(count)]
staging = libswap.staging_dir(dest)
for rel, text in NEW:
    path = staging / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
if pause == "staged":
    stop("staged")
libswap.swap_into_place(staging, dest)
print("done", flush=True)
"""


def _start(tmp_path: Path, dest: Path, mode: str, pause: str) -> subprocess.Popen[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(script), str(dest), str(len(NEW)), mode, pause],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _kill_at(tmp_path: Path, mode: str, pause: str) -> Path:
    dest = tmp_path / "case" / "lib"
    _fill(dest, OLD)
    child = _start(tmp_path, dest, mode, pause)
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert line == pause, f"child did not reach {pause!r}"
    return dest


@pytest.mark.parametrize(
    ("mode", "pause", "expected"),
    [
        ("exchange", "staged", OLD),
        ("exchange", "deleting", NEW),
        ("fallback", "staged", OLD),
        ("fallback", "between", OLD),
        ("fallback", "deleting", NEW),
    ],
)
def test_kill_at_each_step_then_recover(
    tmp_path: Path, mode: str, pause: str, expected: dict[str, str]
) -> None:
    if mode == "exchange" and not _exchange_supported(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not supported on this kernel/filesystem")
    dest = _kill_at(tmp_path, mode, pause)
    if pause == "between":
        # The window the fallback cannot avoid: dest is gone until recover().
        assert not dest.exists()
    recover(dest)
    assert _snapshot(dest) == expected
    assert [p.name for p in dest.parent.iterdir()] == ["lib"]


@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_sigkill_at_random_points_leaves_old_or_new_after_recover(
    tmp_path: Path, mode: str
) -> None:
    if mode == "exchange" and not _exchange_supported(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not supported on this kernel/filesystem")
    # How long one undisturbed run takes (interpreter start included), so the
    # kills spread over the whole of it.
    started = time.monotonic()
    dest = tmp_path / "timing" / "lib"
    _fill(dest, OLD)
    child = _start(tmp_path, dest, mode, "none")
    child.wait()
    duration = time.monotonic() - started
    assert _snapshot(dest) == NEW

    rng = random.Random(f"kbundle-{mode}")
    outcomes = {"old": 0, "new": 0}
    killed = 0
    for iteration in range(12):
        dest = tmp_path / f"run{iteration}" / "lib"
        _fill(dest, OLD)
        child = _start(tmp_path, dest, mode, "none")
        time.sleep(rng.uniform(0.0, duration * 1.1))
        child.send_signal(signal.SIGKILL)
        killed += child.wait() == -signal.SIGKILL
        recover(dest)
        content = _snapshot(dest)
        assert content in (OLD, NEW), f"iteration {iteration}: mixed or missing lib"
        outcomes["old" if content == OLD else "new"] += 1
        assert [p.name for p in dest.parent.iterdir()] == ["lib"]
    print(f"{mode}: {killed} killed, outcomes {outcomes}")
    assert killed, "every child finished before the kill: the test exercised nothing"
