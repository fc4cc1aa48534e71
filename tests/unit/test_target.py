"""Target values: fingerprints."""

from __future__ import annotations

from dataclasses import replace

from bundler.target.manifest import InstalledDist
from bundler.target.model import Cuda
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
