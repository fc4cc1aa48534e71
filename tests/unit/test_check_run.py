"""run_checks: which checks the given inputs allow, and the lock-against-lib check."""

from __future__ import annotations

import json
from pathlib import Path

from bundler.check import CheckInputs, run_checks
from bundler.check.findings import Finding
from bundler.lock.model import LockedPackage
from tests.helpers.targets import add_dist, make_lock, make_target, manifest

TARGET = make_target(installed=manifest(jinja2="3.1.4"))
LOCK = make_lock(
    LockedPackage("app", "1.0", "vendor"),
    LockedPackage("jinja2", "3.1.4", "image"),
    target=TARGET,
)


def _lib(tmp_path: Path, *dists: tuple[str, str], requirements: list[str] | None = None) -> Path:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name, version in dists:
        add_dist(lib, name, version)
    if requirements is not None:
        (lib / "kbundle.json").write_text(json.dumps({"requirements": requirements}))
    return lib


def test_nothing_to_check_is_no_finding() -> None:
    assert run_checks(CheckInputs(TARGET)) == []


def test_a_lock_for_this_target_alone_is_fine() -> None:
    assert run_checks(CheckInputs(TARGET, lock=LOCK, lock_file="pylock.toml")) == []


def test_a_lock_made_for_other_facts_is_a_stale_target_warning() -> None:
    now = make_target(installed=manifest(jinja2="3.1.6"))
    assert run_checks(CheckInputs(now, lock=LOCK, lock_file="pylock.toml")) == [
        Finding(
            "warning",
            "stale-target",
            None,
            "pylock.toml",
            f"the lock was made for target unit ({TARGET.fingerprint}); "
            f"unit is now {now.fingerprint}",
            "Re-lock with `kbundle lock -o pylock.toml`.",
        )
    ]


def test_with_a_manifest_the_lock_is_checked_for_drift_instead() -> None:
    inputs = CheckInputs(
        make_target(),
        lock=LOCK,
        lock_file="pylock.toml",
        manifest=manifest(jinja2="3.1.6"),
        manifest_source="freeze.txt",
    )
    assert [(f.severity, f.kind, f.package) for f in run_checks(inputs)] == [
        ("error", "drift", "jinja2")
    ]


def test_a_lib_that_matches_its_lock(tmp_path: Path) -> None:
    lib = _lib(tmp_path, ("app", "1.0"), requirements=["app"])
    assert run_checks(CheckInputs(TARGET, lock=LOCK, lock_file="pylock.toml", lib=lib)) == []


def test_a_lib_without_a_vendored_package_of_the_lock(tmp_path: Path) -> None:
    lib = _lib(tmp_path)
    assert run_checks(CheckInputs(TARGET, lock=LOCK, lock_file="pylock.toml", lib=lib)) == [
        Finding(
            "error",
            "lib-stale",
            "app",
            str(lib),
            "the lock vendors app 1.0, but the lib does not have it",
            f"Run `kbundle vendor --lock pylock.toml -t {lib}` again.",
        )
    ]


def test_a_lib_with_another_version(tmp_path: Path) -> None:
    lib = _lib(tmp_path, ("app", "0.9"))
    (finding,) = run_checks(CheckInputs(TARGET, lock=LOCK, lock_file="pylock.toml", lib=lib))
    assert (finding.kind, finding.package) == ("lib-stale", "app")
    assert finding.detail == "the lock vendors app 1.0, but the lib has 0.9"


def test_a_lib_vendored_for_other_requirements(tmp_path: Path) -> None:
    lib = _lib(tmp_path, ("app", "1.0"), requirements=["other"])
    assert run_checks(CheckInputs(TARGET, lock=LOCK, lock_file="pylock.toml", lib=lib)) == [
        Finding(
            "error",
            "lib-stale",
            None,
            str(lib),
            "the lib was vendored for other, but pylock.toml is locked for app",
            f"Run `kbundle vendor --lock pylock.toml -t {lib}` again, or check the lib "
            "against the lock it came from (--lock).",
        )
    ]


def test_every_lib_check_runs_and_the_findings_come_sorted(tmp_path: Path) -> None:
    lib = _lib(tmp_path, ("app", "0.9"))
    add_dist(lib, "agent", "1.0", requires=("missing-dep",), tag="cp310-cp310-linux_x86_64")
    with (lib / "weights.bin").open("wb") as handle:
        handle.truncate(5000)
    target = make_target(installed=manifest(jinja2="3.1.4"), unpacked_size_limit=1000)
    findings = run_checks(CheckInputs(target, lock=LOCK, lock_file="pylock.toml", lib=lib))
    assert [(f.severity, f.kind, f.package) for f in findings] == [
        ("error", "lib-stale", "app"),
        ("error", "requirement", "agent"),
        ("error", "size", None),
        ("error", "tag", "agent"),
    ]  # and no stale-target warning: the size limit is not a fact the lock depends on
