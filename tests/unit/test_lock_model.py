"""Facts a Lock knows about itself, without a resolver or a file."""

from __future__ import annotations

from bundler.lock.model import Artifact, LockedPackage
from tests.helpers.locks import FILES, make_lock


def file(filename: str, size: int | None) -> Artifact:
    return Artifact(f"{FILES}/{filename}", filename, None, size)


def test_vendor_bytes_are_the_wheels_and_sdists_to_download() -> None:
    lock = make_lock(
        packages=(
            LockedPackage("numpy", "2.0.2", "image"),
            LockedPackage("zz-a", "1", "vendor", wheel=file("zz_a-1-py3-none-any.whl", 100)),
            LockedPackage("zz-b", "1", "build", sdist=file("zz_b-1.tar.gz", 20)),
            # An index need not give a size: such a file counts nothing.
            LockedPackage("zz-c", "1", "vendor", wheel=file("zz_c-1-py3-none-any.whl", None)),
        )
    )

    assert lock.vendor_bytes == 120


def test_a_lock_of_the_image_alone_downloads_nothing() -> None:
    assert make_lock(packages=(LockedPackage("numpy", "2.0.2", "image"),)).vendor_bytes == 0
