"""Replacing a lock made for other requirements: refused when typed, announced when filed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.cli.output_file import check_replacement
from bundler.errors import InputError
from bundler.lock.model import Lock
from bundler.request.assemble import gather_request
from bundler.request.model import LockOptions, LockRequest
from bundler.target.presets import load_preset


def lock_for(*requirements: str) -> Lock:
    return Lock("kaggle-t4", "f", ">=3.10", "", requirements, (), "0")


def typed(*requirements: str) -> LockRequest:
    return gather_request(LockOptions(), requirements=requirements, target=load_preset("kaggle-t4"))


@pytest.fixture
def path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path / "lockfiles" / "pylock.kaggle-t4.toml"


def test_no_lock_or_the_same_requirements_is_nothing_to_say(path: Path) -> None:
    assert check_replacement(None, typed("zz-a"), path, replace=False) is None
    assert check_replacement(lock_for("ZZ_A"), typed("zz-a"), path, replace=False) is None


def test_typed_requirements_that_differ_are_refused_with_the_way_out(path: Path) -> None:
    with pytest.raises(InputError) as caught:
        check_replacement(lock_for("zz-a", "zz-b"), typed("zz-c"), path, replace=False)

    assert str(caught.value) == (
        "kbundle lock: lockfiles/pylock.kaggle-t4.toml was locked for other requirements "
        "(zz-a, zz-b); this lock adds zz-c; drops zz-a, zz-b. Write it to another file with "
        "-o (e.g. -o lockfiles/pylock.other.toml), give all the requirements, or pass "
        "--replace to overwrite the lock."
    )


def test_replace_or_requirements_from_files_replace_with_a_warning(
    path: Path, tmp_path: Path
) -> None:
    (tmp_path / "reqs.txt").write_text("zz-a\nzz-c\n")
    filed = gather_request(
        LockOptions(requirement_files=(tmp_path / "reqs.txt",)), target=load_preset("kaggle-t4")
    )

    forced = check_replacement(lock_for("zz-a"), typed("zz-a", "zz-c"), path, replace=True)
    from_file = check_replacement(lock_for("zz-a", "zz-b"), filed, path, replace=False)

    assert forced == (
        "replacing lockfiles/pylock.kaggle-t4.toml, which was locked for other requirements: "
        "this lock adds zz-c"
    )
    assert from_file is not None and from_file.endswith("this lock adds zz-c; drops zz-b")
