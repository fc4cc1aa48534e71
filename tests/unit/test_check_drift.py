"""check_drift: the image packages a lock leaves to the image, against the image now."""

from __future__ import annotations

from bundler.check.drift import check_drift
from bundler.check.findings import Finding
from bundler.lock.model import LockedPackage
from tests.helpers.targets import make_lock, manifest

RELOCK = "The lock is stale: re-lock with `kbundle lock --manifest freeze.txt -o pylock.toml`."
LOCK = make_lock(
    LockedPackage("app", "1.0", "vendor"),
    LockedPackage("jinja2", "3.1.4", "image"),
    LockedPackage("numpy", "1.26.4", "image"),
)


def test_an_unchanged_image_is_no_finding() -> None:
    now = manifest(jinja2="3.1.4", numpy="1.26.4")
    assert check_drift(LOCK, "pylock.toml", now, "freeze.txt") == []


def test_vendored_packages_are_not_the_image_s_business() -> None:
    # app is vendored: the image not having it (or having another version) is no drift.
    now = manifest(jinja2="3.1.4", numpy="1.26.4", app="0.1")
    assert check_drift(LOCK, "pylock.toml", now, "freeze.txt") == []


def test_a_changed_version_is_drift() -> None:
    now = manifest(jinja2="3.1.6", numpy="1.26.4")
    assert check_drift(LOCK, "pylock.toml", now, "freeze.txt") == [
        Finding(
            "error",
            "drift",
            "jinja2",
            "pylock.toml",
            "the lock takes jinja2 3.1.4 from the image, but freeze.txt has 3.1.6",
            RELOCK,
        )
    ]


def test_a_package_gone_from_the_image_is_drift() -> None:
    now = manifest(jinja2="3.1.4")
    assert check_drift(LOCK, "pylock.toml", now, "freeze.txt") == [
        Finding(
            "error",
            "drift",
            "numpy",
            "pylock.toml",
            "the lock takes numpy 1.26.4 from the image, but freeze.txt does not have it any more",
            RELOCK,
        )
    ]


def test_an_unknown_version_now_is_drift() -> None:
    now = manifest(jinja2="3.1.4", numpy=None)
    (finding,) = check_drift(LOCK, "pylock.toml", now, "freeze.txt")
    assert (finding.severity, finding.kind, finding.package) == ("error", "drift", "numpy")
    assert finding.detail.endswith("but freeze.txt has an unknown version")
