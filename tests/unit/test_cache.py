"""The cache directory, atomic writes and the file locks of bundler.cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.cache import atomic_write, atomic_writer, cache_dir


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
