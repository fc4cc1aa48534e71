"""Target values: fingerprints and marker evaluation."""

from __future__ import annotations

from dataclasses import replace

from packaging.markers import Marker

from bundler.target.manifest import InstalledDist
from bundler.target.model import Cuda, default_markers
from bundler.target.presets import load_preset


def test_fingerprints() -> None:
    t4 = load_preset("kaggle-t4")
    more = t4.with_installed({"x": InstalledDist("x", "1.0")}, "test")
    assert more.fingerprint != t4.fingerprint
    assert more.build_fingerprint == t4.build_fingerprint  # builds do not depend on packages
    renamed = replace(t4, name="other", description="", sources=())
    assert renamed.fingerprint == t4.fingerprint
    gpu = replace(t4, cuda=Cuda("12.8", "13.0", ("8.0",)))
    assert gpu.build_fingerprint != t4.build_fingerprint
    assert load_preset("kaggle-cpu-2026").build_fingerprint != t4.build_fingerprint


def test_marker_true_uses_the_target_not_the_host() -> None:
    target = replace(
        load_preset("kaggle-t4"),
        markers=default_markers("3.10.14", "aarch64", {"platform_release": "6.1"}),
    )
    assert target.marker_true(None)
    assert target.marker_true(Marker('python_version < "3.11"'))
    assert not target.marker_true(Marker('python_version >= "3.11"'))
    assert target.marker_true(Marker('platform_machine == "aarch64"'))
    assert target.marker_true(Marker('platform_release == "6.1"'))


def test_marker_true_per_extra() -> None:
    target = load_preset("kaggle-t4")
    marker = Marker('extra == "gpu"')
    assert not target.marker_true(marker)  # no extra requested
    assert target.marker_true(marker, "gpu")
    assert not target.marker_true(marker, "cpu")
    # The normalised name is what extras compare by (PEP 685).
    assert target.marker_true(Marker('extra == "Fast_Math"'), "fast-math")
