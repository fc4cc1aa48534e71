"""bundler.vendor.run in-process: the steps from a lock to a lib, with tiny local wheels.

The lock's files are ``file://`` URLs to wheels the test builds, fetched
through a client that records what it was asked for: no network, no index.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from bundler.errors import DiskFull, InputError
from bundler.lock.model import Lock, LockedPackage
from bundler.net.client import HttpClient
from bundler.net.download import Progress
from bundler.request.index_config import IndexConfig
from bundler.target.presets import load_preset
from bundler.vendor.fetch import Fetched
from bundler.vendor.install import InstalledWheel
from bundler.vendor.request import VendorRequest
from bundler.vendor.run import check_lock_matches_target, run_vendor, vendor_outcome
from tests.helpers.locks import artifact, lock_of
from tests.helpers.wheels import build_wheel

TARGET = load_preset("kaggle-cpu-2026")


class RecordingClient(HttpClient):
    """An :class:`HttpClient` that records the files it fetches (or fails them)."""

    def __init__(self, fail: OSError | None = None) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self._fail = fail

    def fetch_file(
        self, url: str, dest: Path, *, sha256: str | None = None, progress: Progress | None = None
    ) -> str:
        self.fetched.append(url.rsplit("/", 1)[-1])
        if self._fail is not None:
            raise OSError(self._fail.errno, self._fail.strerror, str(dest))
        return super().fetch_file(url, dest, sha256=sha256, progress=progress)


@pytest.fixture
def lock(tmp_path: Path) -> Lock:
    wheels = tmp_path / "wheels"
    app = build_wheel(wheels, "app", "1.0", files={"app/__init__.py": b"X = 1\n"})
    numpy = build_wheel(wheels, "numpy", "2.1.0", files={"numpy/__init__.py": b"X = 2\n"})
    return lock_of(
        TARGET,
        LockedPackage("app", "1.0", "vendor", wheel=artifact(app)),
        LockedPackage("numpy", "2.1.0", "vendor", wheel=artifact(numpy), shadows="1.26.4"),
        LockedPackage("jinja2", "3.1.4", "image"),
    )


def request_for(lock: Lock, lib: Path, **fields: object) -> VendorRequest:
    return VendorRequest(lock, TARGET, lib, IndexConfig(index_urls=()), **fields)  # type: ignore[arg-type]


def test_run_vendor_fetches_through_the_given_client(lock: Lock, tmp_path: Path) -> None:
    client = RecordingClient()
    lib = tmp_path / "lib"

    outcome = run_vendor(request_for(lock, lib, offline_env=False), client=client)

    assert sorted(client.fetched) == ["app-1.0-py3-none-any.whl", "numpy-2.1.0-py3-none-any.whl"]
    assert outcome.lib == lib.resolve()
    assert [(p.name, p.version, p.source) for p in outcome.packages] == [
        ("app", "1.0", "vendor"),
        ("numpy", "2.1.0", "vendor"),
    ]
    assert [p.name for p in outcome.image] == ["jinja2"]
    assert (lib / "app" / "__init__.py").read_text() == "X = 1\n"
    record = json.loads((lib / "kbundle.json").read_text())
    assert record["fingerprint"] == TARGET.fingerprint
    assert record["shadowed"] == {"numpy": "1.26.4"}
    assert (lib / "kbundle_boot.py").is_file()
    assert not [p for p in lib.parent.iterdir() if p.name != "lib" and p.name != "wheels"]


def test_a_second_run_takes_every_wheel_from_the_unpacked_cache(lock: Lock, tmp_path: Path) -> None:
    run_vendor(request_for(lock, tmp_path / "one"), client=RecordingClient())
    again = RecordingClient()

    outcome = run_vendor(request_for(lock, tmp_path / "two"), client=again)

    assert again.fetched == []  # found by the lock's sha256, not even copied
    assert [p.name for p in outcome.packages] == ["app", "numpy"]


def test_a_full_cache_is_disk_full_and_the_old_lib_stays(lock: Lock, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    small = lock_of(TARGET, *[p for p in lock.packages if p.name == "app"])
    run_vendor(request_for(small, lib), client=RecordingClient())
    before = sorted(p.name for p in lib.iterdir())
    full = RecordingClient(fail=OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))

    with pytest.raises(DiskFull, match=r"kbundle's cache at .* is full"):
        run_vendor(request_for(lock, lib), client=full)

    assert full.fetched  # the failing download was really attempted
    assert sorted(p.name for p in lib.iterdir()) == before


def test_a_lock_for_another_target_is_refused(lock: Lock) -> None:
    other = load_preset("kaggle-gpu-2026")
    with pytest.raises(InputError, match="the lock was made for target kaggle-cpu-2026"):
        check_lock_matches_target(lock, other, "pylock.toml")
    check_lock_matches_target(lock, TARGET, "pylock.toml")


def test_vendor_outcome_orders_notes_and_counts_each_inode_once(lock: Lock) -> None:
    fetched = Fetched(
        wheels=(),
        built=(),
        sources={"app": "build", "numpy": "vendor"},
        hashes={},
        notes=("built app from source",),
        warnings=("app: no GPU build",),
    )
    installed = [
        InstalledWheel("numpy", "2.1.0", "numpy.whl", ("numpy/__init__.py",), 3_000_000, 2_000_000),
        InstalledWheel("app", "1.0", "app.whl", ("app/__init__.py",), 500),
    ]

    outcome = vendor_outcome(
        request_for(lock, Path("lib")), fetched, installed, ["recovered lib"], 1.5
    )

    assert outcome.notes == (
        "recovered lib",
        "built app from source",
        "2.0 MB of identical files hard-linked in the lib",
    )
    assert outcome.warnings == ("app: no GPU build",)
    assert [(p.name, p.source, p.bytes) for p in outcome.packages] == [
        ("app", "build", 500),
        ("numpy", "vendor", 3_000_000),
    ]
    assert outcome.bytes == 1_000_500
    assert outcome.seconds == 1.5
