"""A full disk, for the lib and for the cache: exit 1 saying which, how much was
needed, with the old lib and the cache left consistent.

Where the test can mount (root, `unshare -m`), the file system really is full:
a 1 MB tmpfs in a private mount namespace. Elsewhere the same CLI runs with an
OSError(ENOSPC) injected at the write.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.index_server import IndexServer
from tests.helpers.run import REPO, run_cli
from tests.helpers.wheels import build_wheel

BIG = 3_000_000  # bytes of incompressible data: more than the 1 MB file system holds


def _can_mount() -> str | None:
    """None when a tmpfs can be mounted in a private namespace here, else why not."""
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return None if proc.returncode == 0 else f"cannot mount a tmpfs: {proc.stderr.decode()}"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "index" / "simple"
    build_wheel(simple, "helper", "2.0", files={"helper.py": b"X = 41\n"})
    payload = random.Random(3).randbytes(BIG)
    build_wheel(
        simple, "big", "1.0", files={"big/blob.bin": payload}, compression=zipfile.ZIP_STORED
    )
    with IndexServer({"simple": simple}) as server:
        yield server


@pytest.fixture
def locks(index: IndexServer, tmp_path: Path) -> dict[str, Path]:
    target = tmp_path / "host.toml"
    res = run_cli("target", "capture", "--python", sys.executable, "-o", str(target))
    assert res.exit_code == 0, res.stderr
    out = {"target": target}
    for name in ("helper", "big"):
        lock = tmp_path / f"{name}.toml"
        res = run_cli(
            "lock", name, "--target", str(target), "-i", index.index_url(), "-o", str(lock), "-q"
        )
        assert res.exit_code == 0, res.stderr
        out[name] = lock
    return out


# Runs inside `unshare -m`: mounts the small file system, vendors, reports JSON.
_SCENARIO = """
import json, os, subprocess, sys
from pathlib import Path

spec = json.loads(sys.argv[1])
small = Path(spec["small"])
small.mkdir(parents=True, exist_ok=True)
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
env = dict(os.environ)
if spec["full"] == "cache":
    env["KBUNDLE_CACHE_DIR"] = str(small / "cache")
    lib = Path(spec["lib"])
else:
    lib = small / "lib"

def vendor(lock):
    cmd = [sys.executable, "-m", "bundler", "vendor", "--target", spec["target"], "--lock", lock,
           "-i", spec["index"], "-t", str(lib)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return {"code": proc.returncode, "stderr": proc.stderr}

def tree(root):
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes().hex()[:64]
            for p in sorted(root.rglob("*")) if p.is_file()}

out = {"old": vendor(spec["helper"])}
out["before"] = tree(lib)
out["full"] = vendor(spec["big"])
out["after"] = tree(lib)
out["leftovers"] = sorted(p.name for p in lib.parent.iterdir() if "kbundle-" in p.name)
cache = Path(env.get("KBUNDLE_CACHE_DIR", spec["cache"]))
out["cache_tmp"] = sorted(str(p) for p in cache.rglob(".tmp-*"))
out["cache_fetch"] = sorted(p.name for p in cache.glob("kbundle-fetch-*"))
# More room, same cache and lib: the next run completes (the cache is consistent).
subprocess.run(["mount", "-o", "remount,size=20m", str(small)], check=True)
out["again"] = vendor(spec["big"])
out["final"] = sorted(tree(lib))
print(json.dumps(out))
"""


def _in_small_fs(
    index: IndexServer, locks: dict[str, Path], tmp_path: Path, full: str
) -> dict[str, Any]:
    spec = {
        "small": str(tmp_path / "small"),
        "full": full,
        "lib": str(tmp_path / "lib"),
        "cache": os.environ["KBUNDLE_CACHE_DIR"],
        "target": str(locks["target"]),
        "helper": str(locks["helper"]),
        "big": str(locks["big"]),
        "index": index.index_url(),
    }
    proc = subprocess.run(
        ["unshare", "-m", sys.executable, "-c", textwrap.dedent(_SCENARIO), json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("full", ["lib", "cache"])
def test_a_full_file_system_is_reported_and_harmless(
    index: IndexServer, locks: dict[str, Path], tmp_path: Path, full: str
) -> None:
    reason = _can_mount()
    if reason is not None:
        pytest.skip(reason + " (the injected-OSError test below covers this case)")
    got = _in_small_fs(index, locks, tmp_path, full)
    assert got["old"]["code"] == 0, got["old"]["stderr"]
    err = got["full"]["stderr"]
    assert got["full"]["code"] == 1, err
    assert "Traceback" not in err and "internal error" not in err
    if full == "lib":
        assert f"the file system of the lib {tmp_path / 'small' / 'lib'} is full" in err, err
        assert "about 3.0 MB was needed" in err and "previous lib is unchanged" in err
    else:
        assert f"kbundle's cache at {tmp_path / 'small' / 'cache'} is full" in err, err
        assert "about 3.0 MB was needed" in err and "KBUNDLE_CACHE_DIR" in err
    assert "is free there" in err
    assert got["after"] == got["before"]  # the old lib, untouched
    assert got["leftovers"] == []
    assert got["cache_tmp"] == [] and got["cache_fetch"] == []
    assert got["again"]["code"] == 0, got["again"]["stderr"]
    assert "big/blob.bin" in got["final"]


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _enospc_part(self: Any, data: bytes) -> None:
    """What a full disk does to PartFile.append: ENOSPC naming the part file."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))


def test_a_full_lib_file_system_injected(
    kbundle: Any,
    index: IndexServer,
    locks: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lib = tmp_path / "lib"
    args = ["--target", str(locks["target"]), "-i", index.index_url(), "-t", str(lib)]
    assert kbundle("vendor", "--lock", str(locks["helper"]), *args).exit_code == 0
    before = sorted(p.name for p in lib.iterdir())
    monkeypatch.setattr("bundler.vendor.run.install_wheels", _enospc)
    res = kbundle("vendor", "--lock", str(locks["big"]), *args)
    assert res.exit_code == 1, res.stderr
    # The injected write names no file; the cache shares the lib's file system here.
    assert f"the file system of the lib {lib} (which also holds kbundle's cache" in res.stderr
    assert "is full" in res.stderr and "about 3.0 MB was needed" in res.stderr
    assert sorted(p.name for p in lib.iterdir()) == before
    assert not [p for p in tmp_path.iterdir() if "kbundle-" in p.name]


def test_a_full_cache_injected(
    kbundle: Any,
    index: IndexServer,
    locks: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bundler.cache.PartFile.append", _enospc_part)
    lib = tmp_path / "lib"
    res = kbundle(
        "vendor",
        "--lock",
        str(locks["big"]),
        "--target",
        str(locks["target"]),
        "-i",
        index.index_url(),
        "-t",
        str(lib),
    )
    assert res.exit_code == 1, res.stderr
    assert "kbundle's cache at" in res.stderr and "about 3.0 MB was needed" in res.stderr
    assert not lib.exists()


def test_any_other_full_disk_is_exit_1_not_a_bug(
    kbundle: Any,
    index: IndexServer,
    locks: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last net: an ENOSPC no step expected still says a file system is full."""
    monkeypatch.setattr("bundler.cli.lock_cmd.write_output", _enospc)
    res = kbundle(
        "lock", "helper", "--target", str(locks["target"]), "-i", index.index_url(), "-o", "x.toml"
    )
    assert res.exit_code == 1, res.stderr
    assert "is full" in res.stderr and "internal error" not in res.stderr
