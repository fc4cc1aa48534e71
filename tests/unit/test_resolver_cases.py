"""Data-driven resolver cases: an index as JSON, cases as requested → resolved/conflicted.

The index is served by an in-memory :class:`PackageSource`, so these tests
exercise policy only (the provider and resolve loop), fast and offline.

A case that resolves states the whole resolved set in ``resolved``: every
package of the final environment, ``"<version> <source>"`` (``image``,
``vendor`` or ``build``). A package the case does not name fails it, so a
resolver that starts vendoring one more package is caught.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement as PkgRequirement
from packaging.utils import NormalizedName, canonicalize_name

from bundler.index.simple_api import Link, make_link
from bundler.resolve.explain import ResolutionFailed
from bundler.resolve.provider import Policy
from bundler.resolve.requirement import Requirement
from bundler.resolve.solve import resolve
from bundler.target.manifest import InstalledDist
from bundler.target.presets import load_preset

DATA = Path(__file__).parent / "data" / "resolver"
INDEX: dict[str, list[dict[str, Any]]] = json.loads((DATA / "index.json").read_text())
CASES: list[dict[str, Any]] = json.loads((DATA / "cases.json").read_text())


class JsonSource:
    """A PackageSource over index.json (metadata synthesised per file)."""

    def __init__(self, index: dict[str, list[dict[str, Any]]]) -> None:
        self.index = index
        self.requests: list[str] = []
        self.prepared: list[str] = []
        self._entries: dict[str, dict[str, Any]] = {}

    def files(self, name: NormalizedName) -> list[Link]:
        self.requests.append(name)
        links = []
        for entry in self.index.get(name, []):
            stem = f"{name.replace('-', '_')}-{entry['version']}"
            filename = (
                f"{stem}.tar.gz"
                if entry.get("sdist")
                else f"{stem}-{entry.get('tag', 'py3-none-any')}.whl"
            )
            link = make_link(
                filename,
                f"https://index.invalid/files/{filename}",
                hashes={"sha256": hashlib.sha256(filename.encode()).hexdigest()},
                requires_python=entry.get("requires_python"),
                yanked=entry.get("yanked"),
                size=1000,
            )
            assert link is not None, filename
            self._entries[link.filename] = {"name": name, **entry}
            links.append(link)
        return links

    def unreachable(self, name: NormalizedName) -> list[str]:
        return []

    def prefetch(self, links: object) -> None:
        pass

    def hint(self, names: object) -> None:
        list(names)  # type: ignore[call-overload]

    def prepared_metadata(self, link: Link) -> bytes:
        """What a build backend would say (the entry's requirements)."""
        self.prepared.append(link.filename)
        return self._render(self._entries[link.filename])

    def metadata(self, link: Link) -> bytes | None:
        entry = self._entries[link.filename]
        return None if entry.get("dynamic") else self._render(entry)

    @staticmethod
    def _render(entry: dict[str, Any]) -> bytes:
        lines = ["Metadata-Version: 2.1", f"Name: {entry['name']}", f"Version: {entry['version']}"]
        if entry.get("requires_python"):
            lines.append(f"Requires-Python: {entry['requires_python']}")
        lines += [f"Requires-Dist: {r}" for r in entry.get("requires", [])]
        return ("\n".join(lines) + "\n").encode()


def _target(case: dict[str, Any]):  # type: ignore[no-untyped-def]
    target = load_preset(case["target"])
    if "installed" in case:
        reqs = case.get("installed_requires", {})
        installed = {
            canonicalize_name(n): InstalledDist(
                canonicalize_name(n), v, tuple(reqs[n]) if n in reqs else None
            )
            for n, v in case["installed"].items()
        }
        target = replace(target, installed=installed)
    if "preloaded" in case:
        target = replace(target, preloaded=tuple(case["preloaded"]))
    return target


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    target = _target(case)
    roots = [Requirement.from_pkg(PkgRequirement(r), "test") for r in case["requested"]]
    policy = Policy(
        may_build=frozenset(case.get("build", [])),
        keep=frozenset(NormalizedName(n) for n in case.get("keep", [])),
        strict_image=case.get("strict_image", False),
        allow_pre=case.get("pre", False),
    )
    source = JsonSource(INDEX)
    if "conflicted" in case:
        with pytest.raises(ResolutionFailed) as info:
            resolve(target, roots, source=source, policy=policy)
        assert set(case["conflicted"]) <= set(info.value.packages), str(info.value)
        for needle in case.get("message", []):
            assert needle in str(info.value), str(info.value)
        for needle in case.get("not_in_message", []):
            assert needle not in str(info.value), str(info.value)
        assert info.value.exit_code == 1
        return
    result = resolve(target, roots, source=source, policy=policy)
    got = {name: f"{c.version} {c.source}" for name, c in result.chosen.items()}
    assert got == case["resolved"]
    for needle in case.get("warnings", []):
        assert any(needle in w for w in result.warnings), (needle, result.warnings)
    for needle in case.get("notes", []):
        assert any(needle in n for n in result.notes), (needle, result.notes)
    if case.get("no_warnings"):
        assert result.warnings == []
