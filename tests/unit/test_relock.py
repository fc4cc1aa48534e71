"""When ``kbundle vendor`` locks again, and the request a relock keeps pins with, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.errors import InputError
from bundler.lock.model import Lock
from bundler.request.config import Config
from bundler.request.model import LockOptions, LockRequest
from bundler.request.relock import VendorLockPlan, plan_vendor_lock, relock_request
from bundler.target.model import Target
from bundler.target.presets import load_preset

PATH = Path("lockfiles/pylock.kaggle-t4.toml")


@pytest.fixture(scope="module")
def t4() -> Target:
    return load_preset("kaggle-t4")


def lock_for(*requirements: str) -> Lock:
    return Lock("kaggle-t4", "f", ">=3.10", "", requirements, (), "0")


def plan(
    t4: Target,
    existing: Lock | None,
    *,
    options: LockOptions | None = None,
    config: Config | None = None,
    requirements: tuple[str, ...] = (),
) -> VendorLockPlan:
    return plan_vendor_lock(
        options or LockOptions(),
        config or Config(),
        requirements=requirements,
        target=t4,
        path=PATH,
        existing=existing,
    )


def names(request: LockRequest) -> list[str]:
    return [str(r.requirement) for r in request.requirements]


# -- kbundle lock: the request over the lock it replaces ----------------------------------


def test_a_relock_keeps_the_existing_pins_unless_upgrading(t4: Target) -> None:
    existing = lock_for("zz-a")

    kept = relock_request(
        LockOptions(), Config(), requirements=["zz-a"], target=t4, existing=existing
    )
    upgraded = relock_request(
        LockOptions(upgrade=True), Config(), requirements=["zz-a"], target=t4, existing=existing
    )

    assert kept.previous is existing and upgraded.previous is None
    assert names(kept) == ["zz-a"]


def test_a_relock_with_nothing_to_lock_is_refused_unless_input_is_optional(t4: Target) -> None:
    with pytest.raises(InputError, match="nothing to lock"):
        relock_request(LockOptions(), Config(), requirements=[], target=t4, existing=None)

    request = relock_request(
        LockOptions(), Config(), requirements=[], target=t4, existing=None, require_input=False
    )
    assert names(request) == []


# -- kbundle vendor: lock first, or vendor the lock there ---------------------------------


def test_no_lock_and_no_requirements_anywhere_is_bad_input(t4: Target) -> None:
    with pytest.raises(InputError) as info:
        plan(t4, None)

    assert str(info.value).startswith(
        f"{PATH}: no such lock file, and no requirements to lock it from"
    )
    assert info.value.source == str(PATH)
    assert f"`kbundle lock REQUIREMENT... -o {PATH}`" in (info.value.hint or "")


def test_no_lock_is_locked_from_the_project_requirements(t4: Target) -> None:
    result = plan(t4, None, config=Config(requirements=("zz-a",)))

    assert result.reuse is None and names(result.request) == ["zz-a"]


def test_a_lock_and_nothing_asked_is_vendored_as_it_is(t4: Target) -> None:
    existing = lock_for("zz-a")

    assert plan(t4, existing).reuse is existing


@pytest.mark.parametrize("upgrade", [False, True])
def test_requirements_given_lock_again_keeping_pins_unless_upgrading(
    t4: Target, upgrade: bool
) -> None:
    existing = lock_for("zz-a")

    result = plan(t4, existing, options=LockOptions(upgrade=upgrade), requirements=("zz-a",))

    # Typed requirements relock even when they are the lock's own.
    assert result.reuse is None and names(result.request) == ["zz-a"]
    assert result.request.previous is (None if upgrade else existing)


def test_a_requirements_file_given_locks_again(t4: Target, tmp_path: Path) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("zz-a\n")

    result = plan(t4, lock_for("zz-a"), options=LockOptions(requirement_files=(reqs,)))

    assert result.reuse is None and names(result.request) == ["zz-a"]


def test_project_requirements_as_locked_vendor_the_lock_spelt_otherwise_or_not(
    t4: Target,
) -> None:
    existing = lock_for("zz-b", "zz-a<2,>=1")

    result = plan(t4, existing, config=Config(requirements=("Zz_A>=1,<2", "zz-b")))

    assert result.reuse is existing


def test_project_requirements_edited_since_the_lock_lock_again(t4: Target) -> None:
    result = plan(t4, lock_for("zz-a"), config=Config(requirements=("zz-a", "zz-c")))

    assert result.reuse is None and names(result.request) == ["zz-a", "zz-c"]


def test_a_project_requirements_file_edited_since_the_lock_locks_again(
    t4: Target, tmp_path: Path
) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("zz-a\n")
    config = Config(requirements_files=(reqs,))
    existing = lock_for("zz-a")
    assert plan(t4, existing, config=config).reuse is existing

    reqs.write_text("zz-a\nzz-b\n")

    assert plan(t4, existing, config=config).reuse is None
