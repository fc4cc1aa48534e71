"""check_size: a lib against the target's unpacked-size limit."""

from __future__ import annotations

from pathlib import Path

from bundler.check.findings import Finding
from bundler.check.size import check_size, unpacked_size
from tests.helpers.targets import make_target


def _lib(tmp_path: Path, size: int) -> Path:
    lib = tmp_path / "lib"
    lib.mkdir()
    with (lib / "weights.bin").open("wb") as handle:
        handle.truncate(size)  # sparse: the size counts, not the blocks
    return lib


def test_no_limit_no_finding(tmp_path: Path) -> None:
    assert check_size(_lib(tmp_path, 10_000), make_target()) == []


def test_at_the_limit_is_fine(tmp_path: Path) -> None:
    assert check_size(_lib(tmp_path, 1000), make_target(unpacked_size_limit=1000)) == []


def test_over_the_limit_is_an_error(tmp_path: Path) -> None:
    lib = _lib(tmp_path, 1001)
    assert check_size(lib, make_target(unpacked_size_limit=1000)) == [
        Finding(
            "error",
            "size",
            None,
            str(lib),
            "the lib takes 1,001 bytes unpacked, above unit's limit of 1,000 bytes for "
            "everything deployed (code, lib and layers)",
            "Vendor less (packages the image already has need not be in the lib), or "
            "deploy as a container image, whose limit is far higher.",
        )
    ]


def test_pycache_counts_and_symlinks_do_not(tmp_path: Path) -> None:
    lib = _lib(tmp_path, 100)
    (lib / "__pycache__").mkdir()
    (lib / "__pycache__" / "m.pyc").write_bytes(b"x" * 10)
    (lib / "alias.bin").symlink_to("weights.bin")
    assert unpacked_size(lib) == 110
