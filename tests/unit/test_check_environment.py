"""check_environment: the final environment (lib over image) for the target's markers."""

from __future__ import annotations

from pathlib import Path

from bundler.check.environment import check_environment
from bundler.check.findings import Finding
from bundler.check.libscan import scan_lib
from bundler.target.manifest import InstalledDist
from bundler.target.model import Target
from tests.helpers.targets import add_dist, make_target, manifest

RELOCK = "Re-lock so both fit (`kbundle lock`), then `kbundle vendor` again."


def _check(lib: Path, target: Target, **options: object) -> list[Finding]:
    return check_environment(scan_lib(lib), target, **options)  # type: ignore[arg-type]


def _key(findings: list[Finding]) -> list[tuple[str, str, str | None]]:
    return sorted((f.severity, f.kind, f.package) for f in findings)


def test_requirements_met_by_lib_or_image_are_no_finding(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    add_dist(lib, "agent", "1.0", requires=("numpy>=1.26", "helper==2.*"))
    add_dist(lib, "helper", "2.1")
    assert _check(lib, make_target(installed=manifest(numpy="1.26.4"))) == []


def test_a_requirement_nobody_has(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    info = add_dist(lib, "agent", "1.0", requires=("missing-dep>=1",))
    assert _check(lib, make_target()) == [
        Finding(
            "error",
            "requirement",
            "agent",
            f"{lib}/{info}",
            "the vendored agent requires missing-dep>=1, which neither the lib nor the image has",
            "Re-lock and vendor so missing-dep is included (`kbundle lock` then `kbundle vendor`).",
        )
    ]


def test_a_version_the_image_has_that_does_not_fit(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    info = add_dist(lib, "agent", "1.0", requires=("numpy>=2",))
    assert _check(lib, make_target(installed=manifest(numpy="1.26.4"))) == [
        Finding(
            "error",
            "requirement",
            "agent",
            f"{lib}/{info}",
            "agent requires numpy>=2, but the final environment has numpy 1.26.4 (from the image)",
            RELOCK,
        )
    ]


def test_the_lib_shadows_the_image(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    add_dist(lib, "agent", "1.0", requires=("numpy>=2",))
    add_dist(lib, "numpy", "2.1.0")
    assert _check(lib, make_target(installed=manifest(numpy="1.26.4"))) == []
    # ...and a lib copy that does not fit is named as the lib's.
    other = tmp_path / "other"
    add_dist(other, "agent", "1.0", requires=("numpy<2",))
    add_dist(other, "numpy", "2.1.0")
    (finding,) = _check(other, make_target(installed=manifest(numpy="1.26.4")))
    assert (finding.severity, finding.kind, finding.package) == ("error", "requirement", "agent")
    assert finding.detail.endswith("has numpy 2.1.0 (from the lib)")


def test_markers_are_the_target_s(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    add_dist(lib, "agent", "1.0", requires=('tomli; python_version < "3.11"', "x; extra == 'a'"))
    assert _check(lib, make_target()) == []  # 3.12, and no extra asked for


def test_an_unknown_image_version_is_a_note(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    info = add_dist(lib, "agent", "1.0", requires=("numpy>=2",))
    assert _check(lib, make_target(installed=manifest(numpy=None))) == [
        Finding(
            "info",
            "unknown",
            "agent",
            f"{lib}/{info}",
            "agent requires numpy>=2; the version of numpy on the target is unknown",
            "Capture the image (`kbundle target capture`) to know its versions.",
        )
    ]


def test_a_preloaded_package_cannot_be_vendored(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    info = add_dist(lib, "torch", "2.4.0")
    target = make_target(installed=manifest(torch="2.1.2"), preloaded=("torch",))
    assert _check(lib, target) == [
        Finding(
            "error",
            "preloaded",
            "torch",
            f"{lib}/{info}",
            "the lib vendors torch 2.4.0, but the host preloads the image's torch 2.1.2 before "
            "your code runs: the vendored copy is never imported",
            "Drop torch from the lib: lock with a version the image has.",
        )
    ]


def test_a_wheel_for_other_tags(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    info = add_dist(lib, "fast", "1.0", tag="cp310-cp310-manylinux_2_17_x86_64")
    add_dist(lib, "fits", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    assert _check(lib, make_target()) == [
        Finding(
            "error",
            "tag",
            "fast",
            f"{lib}/{info}/WHEEL",
            "fast 1.0 was built for cp310-cp310-manylinux_2_17_x86_64, which target unit "
            "(cp312-cp312-manylinux_2_28_x86_64) cannot use",
            "Re-lock and vendor for this target; do not copy libs between targets.",
        )
    ]


def _image_with_a_dependent() -> Target:
    """An image where ``user`` pins ``base`` below 2: shadowing base 2.0 breaks it."""
    return make_target(
        installed={
            "base": InstalledDist("base", "1.0", ()),
            "user": InstalledDist("user", "1.0", ("base<2",)),
        }
    )


def test_a_broken_image_dependent_out_of_scope_is_a_warning(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    add_dist(lib, "base", "2.0")
    (finding,) = _check(lib, _image_with_a_dependent())
    assert (finding.severity, finding.kind, finding.package, finding.file) == (
        "warning",
        "requirement",
        "user",
        "image:user",
    )
    assert "base" in finding.detail
    assert finding.remedy == (
        "Nothing the lib needs imports it; lock with --strict-image to vendor a matching "
        "copy anyway."
    )


def test_a_broken_image_dependent_in_scope_is_an_error(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    add_dist(lib, "base", "2.0")
    for options in ({"strict": True}, {"lock_image": ["user"]}):
        (finding,) = _check(lib, _image_with_a_dependent(), **options)
        assert (finding.severity, finding.kind, finding.package, finding.file) == (
            "error",
            "requirement",
            "user",
            "image:user",
        ), options
        assert "(the lib can load it: " in finding.detail and finding.remedy == RELOCK


def test_a_requirement_of_the_lib_reaches_the_image_dependent(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    add_dist(lib, "base", "2.0")
    add_dist(lib, "agent", "1.0", requires=("user",))
    assert _key(_check(lib, _image_with_a_dependent())) == [("error", "requirement", "user")]
