"""`kbundle pack` from the user's side."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from bundler.pack import pack
from tests.conftest import run_cli


def _submission(tmp_path: Path) -> Path:
    sub = tmp_path / "submission"
    (sub / "lib" / "pkg").mkdir(parents=True)
    (sub / "main.py").write_text("def agent(obs, cfg):\n    return 'yes'\n")
    (sub / "lib" / "kbundle_boot.py").write_text("")
    (sub / "lib" / "pkg" / "__init__.py").write_text("X = 1\n")
    (sub / "lib" / "pkg" / "__pycache__").mkdir()
    (sub / "lib" / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    return sub


def test_pack_with_model(tmp_path: Path) -> None:
    sub = _submission(tmp_path)
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 1000)
    out = tmp_path / "out" / "submission.tar.gz"
    res = run_cli("pack", str(sub), "-o", str(out), "--add", f"{model}:model.gguf")
    assert res.exit_code == 0, res.stderr
    assert "packed 4 files" in res.stderr
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert names[0] == "lib"  # sorted, main.py at the root
        assert set(names) == {
            "lib",
            "lib/kbundle_boot.py",
            "lib/pkg",
            "lib/pkg/__init__.py",
            "main.py",
            "model.gguf",
        }
        assert all(
            m.uid == 0 and m.mtime == tar.getmember("main.py").mtime for m in tar.getmembers()
        )
    first = out.read_bytes()
    assert run_cli("pack", str(sub), "-o", str(out), "--add", f"{model}:model.gguf").exit_code == 0
    assert out.read_bytes() == first  # reproducible


def test_pack_needs_main_py(tmp_path: Path) -> None:
    sub = tmp_path / "submission"
    sub.mkdir()
    res = run_cli("pack", str(sub), "-o", str(tmp_path / "s.tar.gz"))
    assert res.exit_code == 2
    assert "main.py" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("spec", ["missing.bin", "{model}:../evil", "{model}:main.py"])
def test_bad_add(tmp_path: Path, spec: str) -> None:
    sub = _submission(tmp_path)
    model = tmp_path / "m.bin"
    model.write_bytes(b"x")
    res = run_cli(
        "pack", str(sub), "-o", str(tmp_path / "s.tar.gz"), "--add", spec.format(model=model)
    )
    assert res.exit_code == 2, res.stderr
    assert "--add" in res.stderr
    assert not (tmp_path / "s.tar.gz").exists()


def test_size_limit_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    sub = _submission(tmp_path)
    out = tmp_path / "s.tar.gz"
    from bundler.errors import KbundleError

    with pytest.raises(KbundleError, match="upload limit"):
        pack(sub, out, limit=10)
    assert not out.exists()
    assert list(tmp_path.glob(".s.tar.gz*")) == []
