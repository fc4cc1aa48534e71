"""`kbundle pack` from the user's side."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from bundler.pack.archive import pack
from tests.helpers.run import run_cli


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


def test_pack_leaves_out_what_an_interrupted_vendor_left_beside_the_lib(tmp_path: Path) -> None:
    sub = _submission(tmp_path)
    (sub / ".lib.kbundle-lock").write_text("")  # a vendor killed with kill -9
    (sub / ".lib.kbundle-new-x1y2").mkdir()
    (sub / ".lib.kbundle-new-x1y2" / "half.py").write_text("")
    (sub / ".lib.kbundle-old-a1b2").mkdir()
    (sub / ".env.kbundle-lockfile").write_text("")  # the user's: not kbundle's name
    out = tmp_path / "submission.tar.gz"
    res = run_cli("pack", str(sub), "-o", str(out))
    assert res.exit_code == 0, res.stderr
    with tarfile.open(out) as tar:
        assert not [n for n in tar.getnames() if ".kbundle-" in n and n != ".env.kbundle-lockfile"]
        assert ".env.kbundle-lockfile" in tar.getnames()


def test_pack_needs_main_py(tmp_path: Path) -> None:
    sub = tmp_path / "submission"
    sub.mkdir()
    res = run_cli("pack", str(sub), "-o", str(tmp_path / "s.tar.gz"))
    assert res.exit_code == 2
    assert "main.py" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("spec", ["missing.bin", "{model}:../evil", "{model}:main.py"])
def test_bad_add(kbundle: Any, tmp_path: Path, spec: str) -> None:
    sub = _submission(tmp_path)
    model = tmp_path / "m.bin"
    model.write_bytes(b"x")
    res = kbundle(
        "pack", str(sub), "-o", str(tmp_path / "s.tar.gz"), "--add", spec.format(model=model)
    )
    assert res.exit_code == 2, res.stderr
    assert "--add" in res.stderr
    assert not (tmp_path / "s.tar.gz").exists()


def test_size_limit_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    sub = _submission(tmp_path)
    out = tmp_path / "s.tar.gz"
    from bundler.errors import KbundleError

    before = set(tmp_path.iterdir())
    with pytest.raises(KbundleError, match="upload limit"):
        pack(sub, out, limit=10)
    assert not out.exists()
    assert set(tmp_path.iterdir()) == before  # no partial archive or temporary file left


def test_pack_without_dir_takes_the_current_folder_with_main_py(tmp_path: Path) -> None:
    sub = _submission(tmp_path)
    res = run_cli("pack", cwd=sub)
    assert res.exit_code == 0, res.stderr
    with tarfile.open(sub / "submission.tar.gz") as tar:
        assert "main.py" in tar.getnames()
    assert "packed 3 files" in res.stderr and "from . into submission.tar.gz" in res.stderr


def test_pack_without_dir_takes_submission_below(tmp_path: Path) -> None:
    _submission(tmp_path)
    res = run_cli("pack", cwd=tmp_path)
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "submission.tar.gz").is_file()
    assert "from submission into" in res.stderr
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    res = run_cli("pack", cwd=empty)
    assert res.exit_code == 2 and "submission" in res.stderr and "main.py" in res.stderr


def test_pack_dataset_writes_a_kaggle_dataset_folder(tmp_path: Path) -> None:
    sub = _submission(tmp_path)
    lib = sub / "lib"
    (lib / "pkg" / "big.so").write_bytes(b"\x7fELF" + b"\0" * 5000)
    (lib / "pkg" / "big.so.1").hardlink_to(lib / "pkg" / "big.so")
    (lib / "pkg" / "run.sh").write_text("#!/bin/sh\n")
    (lib / "pkg" / "run.sh").chmod(0o755)
    model = tmp_path / "weights"
    model.mkdir()
    (model / "a.bin").write_bytes(b"w" * 10)
    out = tmp_path / "ds"
    res = run_cli(
        "pack",
        str(sub),
        "--dataset",
        str(out),
        "--dataset-id",
        "alice/agent-libs",
        "--add",
        f"{model}:model",
    )
    assert res.exit_code == 0, res.stderr
    meta = json.loads((out / "dataset-metadata.json").read_text())
    assert meta["id"] == "alice/agent-libs" and meta["title"] == "agent-libs"
    assert meta["licenses"] == [{"name": "other"}]
    assert sorted(p.name for p in out.iterdir()) == ["dataset-metadata.json", "lib", "model"]
    assert (out / "lib" / "pkg" / "__init__.py").read_text() == "X = 1\n"
    assert not (out / "lib" / "pkg" / "__pycache__").exists()
    assert (out / "lib" / "pkg" / "big.so").stat().st_ino == (
        out / "lib" / "pkg" / "big.so.1"
    ).stat().st_ino
    assert (out / "lib" / "pkg" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (out / "model" / "a.bin").read_bytes() == b"w" * 10
    assert f"kaggle datasets create -p {out} --dir-mode zip" in res.stderr
    assert "/kaggle/input/agent-libs/lib" in res.stderr

    # Again: the previous dataset folder is replaced; a stray file in it goes.
    (out / "stray.txt").write_text("old")
    again = run_cli("pack", str(sub), "--dataset", str(out), "--dataset-id", "alice/agent-libs")
    assert again.exit_code == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["dataset-metadata.json", "lib"]
    assert not [p for p in tmp_path.iterdir() if "kbundle-" in p.name]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dataset-id", "alice/abc"], "6 to 50"),
        (["--dataset-id", "alice/Has_Upper"], "not a Kaggle dataset id"),
        (["--dataset-id", "noslash"], "OWNER/SLUG"),
        ([], "--dataset-id"),
        (["--dataset-id", "alice/agent-libs", "--title", "tiny"], "--title"),
        (["--dataset-id", "alice/agent-libs", "-o", "x.tar.gz"], "one of them"),
    ],
)
def test_pack_dataset_bad_input(tmp_path: Path, args: list[str], needle: str) -> None:
    sub = _submission(tmp_path)
    res = run_cli("pack", str(sub), "--dataset", str(tmp_path / "ds"), *args)
    assert res.exit_code == 2, res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "ds").exists()


def test_pack_dataset_never_replaces_a_foreign_folder(tmp_path: Path) -> None:
    sub = _submission(tmp_path)
    out = tmp_path / "mydata"
    out.mkdir()
    (out / "precious.csv").write_text("keep me")
    res = run_cli("pack", str(sub), "--dataset", str(out), "--dataset-id", "alice/agent-libs")
    assert res.exit_code == 2
    assert "not a dataset folder kbundle wrote" in res.stderr
    assert (out / "precious.csv").read_text() == "keep me"


def test_dataset_limits_are_checked_before_writing(tmp_path: Path) -> None:
    from bundler.errors import InputError
    from bundler.pack.dataset import DATASET_FILES_LIMIT, dataset_metadata, write_dataset

    lib = _submission(tmp_path) / "lib"
    meta = dataset_metadata("alice/agent-libs", None, "kaggle-t4")
    with pytest.raises(InputError, match="GB per dataset"):
        write_dataset(lib, tmp_path / "a", meta, limit_bytes=1)
    many = tmp_path / "many"
    many.mkdir()
    extra = []
    for i in range(DATASET_FILES_LIMIT):
        (many / f"f{i}").write_text("x")
        extra.append((many / f"f{i}", f"f{i}"))
    with pytest.raises(InputError, match="at most 1000 files"):
        write_dataset(lib, tmp_path / "b", meta, extra)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
