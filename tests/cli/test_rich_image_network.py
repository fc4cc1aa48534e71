"""vllm on the real Kaggle T4 preset (726 packages), against the real index.

The product's promise on a rich image: the smallest correct delta, explained.
Nothing is vendored at the image's own version, nothing outside the scope
(reached from vllm, or a follower the notes explain), the out-of-scope image
packages it breaks are named in warnings, and ``--keep torch`` gives a vllm
that runs on the image's torch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from packaging.version import Version

from bundler.lock.pylock_read import read_lock
from bundler.target.presets import load_preset
from tests.helpers.run import run_cli

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _lock(tmp_path: Path, *args: str) -> tuple[dict[str, object], Path]:
    out = tmp_path / "pylock.toml"
    res = run_cli("lock", "vllm", "--target", "kaggle-t4", "-o", str(out), "--json", *args)
    assert res.exit_code == 0, res.stderr
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout), out


def test_vllm_on_kaggle_t4_is_the_scoped_delta(tmp_path: Path) -> None:
    doc, out = _lock(tmp_path)
    target = load_preset("kaggle-t4")
    lock = read_lock(out)
    packages = {p.name: p for p in lock.packages}
    # Never the image's own release again.
    for p in lock.vendored:
        if p.name in target.installed:
            image = Version(target.installed[p.name].version or "0")
            assert Version(p.version).public != image.public, p
    # Every vendored package is reached from vllm, or follows for a stated reason.
    reached: set[str] = set()
    todo = ["vllm"]
    while todo:
        name = todo.pop()
        if name not in reached and name in packages:
            reached.add(name)
            todo.extend(packages[name].dependencies)
    notes = doc["notes"]
    followers = {
        m.group(1)
        for n in notes  # type: ignore[attr-defined]
        if (m := re.search(r"; (\S+) follows \(", n))
    }
    outside = {p.name for p in lock.vendored} - reached - followers
    assert not outside, (outside, notes)
    # The image packages it breaks but does not need are named, not vendored.
    warnings = doc["warnings"]
    assert warnings
    for w in warnings:  # type: ignore[attr-defined]
        named = re.match(r"the image's (\S+) ", w)
        assert named and named.group(1) not in {p.name for p in lock.vendored}, w
        assert "do not import" in w
    # Shadowing the image's torch is priced, with the --keep alternative.
    shadows = {s["name"]: s for s in doc["shadows"]}  # type: ignore[attr-defined, index]
    if packages["torch"].source != "image":
        assert "torch" in shadows
        assert shadows["torch"]["alternative"]["command"].endswith("--keep torch")


def test_keep_torch_gives_a_vllm_on_the_image_torch(tmp_path: Path) -> None:
    doc, out = _lock(tmp_path, "--keep", "torch")
    lock = read_lock(out)
    packages = {p.name: p for p in lock.packages}
    assert packages["torch"].source == "image"
    assert packages["torch"].version == load_preset("kaggle-t4").installed["torch"].version
    assert packages["vllm"].source == "vendor"
    assert not [s for s in doc["shadows"] if s["name"] == "torch"]  # type: ignore[attr-defined, index]
