"""bundler.vendor.fetch in-process: a lock's files on disk, from local wheels and sdists."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.cache import cache_dir
from bundler.errors import InputError
from bundler.lock.model import Artifact, Lock, LockedPackage
from bundler.request.index_config import IndexConfig
from bundler.target.presets import load_preset
from bundler.vendor.fetch import artifact_link, fetch_and_build
from bundler.vendor.request import VendorRequest
from bundler.vendor.unpacked import UnpackedWheel, unpacked_wheel
from tests.helpers.locks import artifact, lock_of
from tests.helpers.wheels import build_sdist, build_wheel

TARGET = load_preset("kaggle-cpu-2026")


def request_for(lock: Lock, **fields: object) -> VendorRequest:
    index = IndexConfig(index_urls=())
    return VendorRequest(lock, TARGET, Path("lib"), index, **fields)  # type: ignore[arg-type]


@pytest.fixture
def wheels(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "wheels"
    return {
        "zeta": build_wheel(folder, "zeta", "1.0"),
        "alpha": build_wheel(folder, "alpha", "2.0"),
    }


def test_the_vendored_wheels_come_in_lock_order_with_their_hashes(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    zeta, alpha = artifact(wheels["zeta"]), artifact(wheels["alpha"])
    lock = lock_of(
        TARGET,
        LockedPackage("zeta", "1.0", "vendor", wheel=zeta),
        LockedPackage("alpha", "2.0", "vendor", wheel=alpha),
        LockedPackage("numpy", "1.26.4", "image"),
    )
    downloads = tmp_path / "downloads"

    fetched = fetch_and_build(request_for(lock), downloads, unpacked=False)

    assert fetched.wheels == (downloads / alpha.filename, downloads / zeta.filename)
    assert fetched.built == ()
    assert fetched.sources == {"alpha": "vendor", "zeta": "vendor"}
    assert fetched.hashes == {
        downloads / alpha.filename: alpha.sha256,
        downloads / zeta.filename: zeta.sha256,
    }
    assert (fetched.notes, fetched.warnings) == ((), ())


def test_an_unpacked_wheel_is_not_fetched_unless_files_are_wanted(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    alpha = artifact(wheels["alpha"])
    unpacked_wheel(wheels["alpha"], cache_dir(), sha256=alpha.sha256)
    lock = lock_of(TARGET, LockedPackage("alpha", "2.0", "vendor", wheel=alpha))

    cached = fetch_and_build(request_for(lock), tmp_path / "one")
    files = fetch_and_build(request_for(lock), tmp_path / "two", unpacked=False)

    (entry,) = cached.wheels
    assert isinstance(entry, UnpackedWheel) and entry.name == "alpha"
    assert cached.hashes == {}
    assert not (tmp_path / "one").exists() or not any((tmp_path / "one").iterdir())
    assert files.wheels == (tmp_path / "two" / alpha.filename,)


def test_an_sdist_is_built_only_when_allowed(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path / "sdists", "slow-pkg", "1.0")
    lock = lock_of(TARGET, LockedPackage("slow-pkg", "1.0", "build", sdist=artifact(sdist)))

    with pytest.raises(InputError, match="slow-pkg must be built from source") as caught:
        fetch_and_build(request_for(lock, build=frozenset({"other"})), tmp_path / "downloads")

    assert caught.value.hint is not None and "--build slow-pkg" in caught.value.hint


def test_a_refused_build_fetches_nothing(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path / "sdists", "slow-pkg", "1.0")
    gone = artifact(sdist)
    sdist.unlink()  # a fetch would fail on the missing file, not refuse the build
    lock = lock_of(TARGET, LockedPackage("slow-pkg", "1.0", "build", sdist=gone))

    with pytest.raises(InputError, match="must be built from source"):
        fetch_and_build(request_for(lock), tmp_path / "downloads")

    assert not (tmp_path / "downloads").exists()


def test_a_build_for_another_cpu_is_refused_before_the_fetch(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path / "sdists", "slow-pkg", "1.0")
    gone = artifact(sdist)
    sdist.unlink()
    arm = load_preset("manylinux_2_28-py312-aarch64")
    lock = lock_of(arm, LockedPackage("slow-pkg", "1.0", "build", sdist=gone))
    request = VendorRequest(
        lock, arm, Path("lib"), IndexConfig(index_urls=()), build=frozenset({":all:"})
    )

    with pytest.raises(InputError, match="does not cross-compile"):
        fetch_and_build(request, tmp_path / "downloads")


def test_a_locked_file_name_kbundle_cannot_read_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"cannot read: README\.txt"):
        artifact_link(Artifact("file:///tmp/README.txt", "README.txt", None, None))
