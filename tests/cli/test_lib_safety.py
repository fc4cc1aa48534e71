"""A lib folder is sacred: `kbundle vendor` never deletes what it did not write,
never runs twice at once on one lib, and says what is wrong with an impossible -t."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index_server import IndexServer
from tests.helpers.run import REPO, Result, run_cli
from tests.helpers.wheels import build_wheel


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "index" / "simple"
    build_wheel(simple, "helper", "2.0", files={"helper.py": b"X = 41\n"})
    with IndexServer({"simple": simple}) as server:
        yield server


@pytest.fixture
def locked(index: IndexServer, tmp_path: Path) -> tuple[Path, Path]:
    """A host target file and a lock of `helper` for it."""
    target = tmp_path / "host.toml"
    res = run_cli("target", "capture", "--python", sys.executable, "-o", str(target))
    assert res.exit_code == 0, res.stderr
    lock = tmp_path / "pylock.toml"
    res = run_cli(
        "lock", "helper", "--target", str(target), "-i", index.index_url(), "-o", str(lock), "-q"
    )
    assert res.exit_code == 0, res.stderr
    return target, lock


def _vendor(
    index: IndexServer, locked: tuple[Path, Path], lib: str, *args: str, **env: str
) -> Result:
    target, lock = locked
    return run_cli(
        "vendor",
        "--target",
        str(target),
        "--lock",
        str(lock),
        "-i",
        index.index_url(),
        "-t",
        lib,
        *args,
        env=env,
    )


def _one_paragraph(res: Result, code: int) -> str:
    assert res.exit_code == code, (res.exit_code, res.stderr)
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    return res.stderr


def test_a_folder_kbundle_did_not_write_is_refused(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    notlib = tmp_path / "notlib"
    notlib.mkdir()
    (notlib / "x.txt").write_text("hi\n")
    err = _one_paragraph(_vendor(index, locked, str(notlib)), 2)
    assert str(notlib) in err and "kbundle.json" in err and "--force" in err and "x.txt" in err
    assert (notlib / "x.txt").read_text() == "hi\n"
    assert sorted(p.name for p in tmp_path.iterdir() if "kbundle-" in p.name) == []

    forced = _vendor(index, locked, str(notlib), "--force", "-q")
    assert forced.exit_code == 0, forced.stderr
    assert (notlib / "helper.py").is_file() and not (notlib / "x.txt").exists()


def test_an_empty_folder_and_a_kbundle_lib_are_replaced(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _vendor(index, locked, str(empty), "-q").exit_code == 0
    assert (empty / "kbundle.json").is_file()
    again = _vendor(index, locked, str(empty), "-q")  # a lib kbundle wrote: replaced freely
    assert again.exit_code == 0, again.stderr
    assert not (empty.parent / ".empty.kbundle-lock").exists()  # the lock file is removed


def test_a_symlinked_lib_keeps_its_link(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    real = tmp_path / "real"
    (tmp_path / "link").symlink_to(real)
    assert _vendor(index, locked, str(tmp_path / "link"), "-q").exit_code == 0
    assert (tmp_path / "link").is_symlink() and (real / "helper.py").is_file()


@pytest.mark.parametrize(
    ("lib", "needle"),
    [
        ("/proc/xlib", "cannot write in /proc"),
        ("/proc/self", "is not a kbundle lib"),
        ("/sys/kernel/xlib", "cannot write in /sys/kernel"),
        ("", "is empty"),
        ("/", "mount point"),
    ],
)
def test_an_impossible_lib_path_is_bad_input(
    index: IndexServer, locked: tuple[Path, Path], lib: str, needle: str
) -> None:
    if lib and not Path(lib).parent.exists():
        pytest.skip(f"{Path(lib).parent} does not exist on this machine")
    err = _one_paragraph(_vendor(index, locked, lib), 2)
    assert needle in err, err
    if lib:
        assert lib in err


def test_a_file_as_lib_is_bad_input(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    err = _one_paragraph(_vendor(index, locked, str(locked[1])), 2)
    assert str(locked[1]) in err


# ------------------------------------------------------------------ the lib lock

_HOLD = """
import sys, time
from pathlib import Path
from bundler.vendor.libdest import lib_lock
with lib_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()  # until the test says so (or kills us)
"""


_VENDOR = (sys.executable, "-m", "bundler", "vendor")


def _holder(lib: Path) -> subprocess.Popen[str]:
    """Another process holding the lib's lock until told to stop (or killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(lib)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_vendor_waits_for_the_first(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    holder = _holder(lib)
    target, lock = locked
    command = [*_VENDOR, "--target", str(target), "--lock", str(lock)]
    command += ["-i", index.index_url(), "-t", str(lib)]
    waiter = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert waiter.stderr is not None
    first = waiter.stderr.readline()
    assert "waiting for another kbundle run" in first and f"pid {holder.pid}" in first, first
    assert str(lib) in first
    assert not lib.exists()  # nothing happens to the lib while the other run holds it
    assert holder.stdin is not None
    holder.stdin.write("done\n")
    holder.stdin.flush()
    assert holder.wait() == 0
    rest = waiter.stderr.read()
    assert waiter.wait() == 0, rest
    assert (lib / "helper.py").is_file()


def test_a_held_lock_fails_clearly_after_the_timeout(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    holder = _holder(lib)
    try:
        err = _one_paragraph(_vendor(index, locked, str(lib), KBUNDLE_LOCK_TIMEOUT="0"), 1)
        assert f"pid {holder.pid}" in err and str(lib) in err and "KBUNDLE_LOCK_TIMEOUT" in err
    finally:
        holder.kill()
        holder.wait()


def test_kill_9_releases_the_lock(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    holder = _holder(lib)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / ".lib.kbundle-lock").exists()  # left behind, but not held
    res = _vendor(index, locked, str(lib), "-q", KBUNDLE_LOCK_TIMEOUT="0")
    assert res.exit_code == 0, res.stderr
    assert not (tmp_path / ".lib.kbundle-lock").exists()


def test_two_vendors_at_once_both_finish_with_a_whole_lib(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    target, lock = locked
    command = [*_VENDOR, "-q", "--target", str(target), "--lock", str(lock)]
    command += ["-i", index.index_url(), "-t", str(lib)]
    procs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate()
        assert proc.returncode == 0, err
    assert sorted(p.name for p in lib.iterdir()) == sorted(
        ["helper-2.0.dist-info", "helper.py", "kbundle.json", "kbundle_boot.py"]
    )
    assert [p.name for p in tmp_path.iterdir() if "kbundle-" in p.name] == []


def test_lock_timeout_must_be_a_number(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    err = _one_paragraph(
        _vendor(index, locked, str(tmp_path / "lib"), KBUNDLE_LOCK_TIMEOUT="soon"), 2
    )
    assert "KBUNDLE_LOCK_TIMEOUT" in err and "soon" in err


@pytest.mark.parametrize("command", ["lock", "capture"])
def test_an_unwritable_output_file_is_bad_input(
    index: IndexServer, locked: tuple[Path, Path], command: str
) -> None:
    if not Path("/proc/self").exists():
        pytest.skip("no /proc on this machine")
    target, _ = locked
    if command == "lock":
        args = ["lock", "helper", "--target", str(target), "-i", index.index_url()]
    else:
        args = ["target", "capture", "--python", sys.executable]
    err = _one_paragraph(run_cli(*args, "-o", "/proc/x.toml"), 2)
    assert "cannot write" in err and "/proc/x.toml" in err and "-o/--output" in err


@pytest.mark.parametrize("where", ["a file", "/proc/cache"])
def test_an_unusable_cache_folder_is_bad_input(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path, where: str
) -> None:
    if where == "a file":
        cache = tmp_path / "afile"
        cache.write_text("")
    elif Path("/proc/self").exists():
        cache = Path(where)
    else:
        pytest.skip("no /proc on this machine")
    res = _vendor(index, locked, str(tmp_path / "lib"), KBUNDLE_CACHE_DIR=str(cache))
    err = _one_paragraph(res, 2)
    assert f"kbundle's cache folder {cache} cannot be used" in err and "KBUNDLE_CACHE_DIR" in err
    assert not (tmp_path / "lib").exists()


def test_files_added_to_a_kbundle_lib_are_not_deleted(
    index: IndexServer, locked: tuple[Path, Path], tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    assert _vendor(index, locked, str(lib), "-q").exit_code == 0
    # Python writes __pycache__ into the lib (on import, or compileall): not a user's file.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(lib)], check=True)
    assert any(lib.glob("__pycache__/*.pyc"))
    again = _vendor(index, locked, str(lib), "-q")
    assert again.exit_code == 0, again.stderr
    (lib / "model.gguf").write_bytes(b"weights")
    err = _one_paragraph(_vendor(index, locked, str(lib)), 2)
    assert "holds files kbundle did not install (model.gguf)" in err and "--force" in err
    assert (lib / "model.gguf").read_bytes() == b"weights"
