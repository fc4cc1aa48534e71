"""bundler.resolve.behind on its own: detectors, the fallback, and the trial seam."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from bundler.resolve import behind
from bundler.resolve.behind import Conflict, Constraint, Facts, find_far_behind
from bundler.resolve.candidates import Candidate, Offer
from bundler.resolve.requirement import Requirement
from bundler.target.file import parse_target_toml
from bundler.toml_table import parse_toml

TARGET = b"""format = 1
name = "t"
python_full_version = "3.12.3"
[installed]
torch = "2.1.2"
"""
UNSLOTH = NormalizedName("unsloth")
TORCH = NormalizedName("torch")
NEW = Candidate(UNSLOTH, Version("2026.1"), "wheel")
OLD = Candidate(UNSLOTH, Version("2024.8"), "wheel")


def _run(**kwargs: object) -> list[behind.FarBehind]:
    target = parse_target_toml(parse_toml(TARGET, "t"), "t", Path())
    trials: list[tuple[str, Version]] = []

    def trial(name: NormalizedName, version: Version) -> list[Conflict]:
        trials.append((name, version))
        return [Conflict(Requirement(TORCH, SpecifierSet(">=2.4")), NEW)]

    found = find_far_behind(
        target,
        [Requirement(UNSLOTH, SpecifierSet())],
        {UNSLOTH: OLD},
        lambda name: Offer((NEW, OLD), ()),
        trial,
        **kwargs,  # type: ignore[arg-type]
    )
    assert len(trials) == len(set(trials)) <= 1  # one resolution per version at most
    return found


def test_no_detector_matches_so_the_target_is_named() -> None:
    [found] = _run()
    [why] = found.constraints
    assert why.kind == "target" and "unsloth 2026.1 requires torch>=2.4" in why.detail


def test_a_kept_package_is_its_own_kind() -> None:
    [found] = _run(kept=frozenset({TORCH}))
    assert [c.kind for c in found.constraints] == ["kept"]
    assert "kept at the image's 2.1.2" in found.message()


def test_a_new_kind_of_constraint_is_one_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    def vendor_policy(facts: Facts) -> Constraint | None:
        return Constraint("policy", facts.name, f"{facts.name} is banned here", "ask IT.")

    monkeypatch.setattr(behind, "DETECTORS", [*behind.DETECTORS, vendor_policy])
    [found] = _run()
    assert found.constraints[0].kind == "policy" and "ask IT." in found.message()


def test_nothing_when_the_newest_was_chosen() -> None:
    target = parse_target_toml(parse_toml(TARGET, "t"), "t", Path())
    assert (
        find_far_behind(
            target,
            [Requirement(UNSLOTH, SpecifierSet())],
            {UNSLOTH: NEW},
            lambda name: Offer((NEW, OLD), ()),
            lambda name, version: pytest.fail("no trial needed"),
        )
        == []
    )


def test_a_preloaded_requested_package_names_itself() -> None:
    text = TARGET.replace(b"[installed]", b'preloaded = ["unsloth"]\n[installed]')
    text += b'unsloth = "2024.8"\n'
    target = parse_target_toml(parse_toml(text, "t"), "t", Path())
    image = Candidate(UNSLOTH, Version("2024.8"), "image")
    [found] = find_far_behind(
        target,
        [Requirement(UNSLOTH, SpecifierSet())],
        {UNSLOTH: image},
        lambda name: Offer((NEW, OLD), ()),
        lambda name, version: [],  # the pin alone cannot be met: nothing else conflicts
    )
    assert [c.kind for c in found.constraints] == ["preloaded"]
    assert "unsloth is preloaded by the host at 2024.8" in found.message()


def test_an_image_copy_is_checked_only_when_something_fixes_it() -> None:
    target = parse_target_toml(parse_toml(TARGET + b'unsloth = "2024.8"\n', "t"), "t", Path())
    image = Candidate(UNSLOTH, Version("2024.8"), "image")

    def check(kept: frozenset[NormalizedName], fail: bool) -> list[behind.FarBehind]:
        return find_far_behind(
            target,
            [Requirement(UNSLOTH, SpecifierSet())],
            {UNSLOTH: image},
            lambda name: pytest.fail("no page needed") if fail else Offer((NEW, OLD), ()),
            lambda name, version: pytest.fail("no trial needed") if fail else [],
            kept=kept,
        )

    # Preferred by kbundle's rule: neither the project page nor a trial is asked for.
    assert check(frozenset(), fail=True) == []
    # Kept by the user: checked, and the keep is named.
    [found] = check(frozenset({UNSLOTH}), fail=False)
    assert [c.kind for c in found.constraints] == ["kept"]
