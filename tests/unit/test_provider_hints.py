"""What the provider asks of its source: the hints it gives, the image lines it reads.

The hints decide which metadata a cold lock fetches in the background: a hint
that points at the wrong file leaves the resolver to fetch the right one
itself, one round trip after another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace

from packaging.requirements import Requirement as PkgRequirement
from packaging.utils import NormalizedName, canonicalize_name

from bundler.index.simple_api import Link, make_link
from bundler.resolve.provider import Policy, TargetProvider
from bundler.resolve.requirement import Requirement
from bundler.resolve.solve import resolve
from bundler.resolve.source import Chooser
from bundler.target.manifest import InstalledDist
from bundler.target.presets import load_preset

#: name -> version -> requirements
INDEX = {
    "app": {"1.0": ["lib==1.0", "tool>=2"]},
    "lib": {"1.0": [], "2.0": []},
    "tool": {"1.0": [], "2.0": [], "3.0": []},
}


class HintRecorder:
    """A package source over INDEX that keeps every hint it is given."""

    def __init__(self) -> None:
        self.hints: list[tuple[NormalizedName, str, Chooser]] = []
        self._links: dict[str, list[Link]] = {}

    def files(self, name: NormalizedName) -> list[Link]:
        if name not in self._links:
            self._links[name] = [self._link(name, v) for v in INDEX.get(name, {})]
        return self._links[name]

    @staticmethod
    def _link(name: str, version: str) -> Link:
        filename = f"{name}-{version}-py3-none-any.whl"
        link = make_link(
            filename,
            f"https://index.invalid/{filename}",
            hashes={"sha256": hashlib.sha256(filename.encode()).hexdigest()},
        )
        assert link is not None
        return link

    def metadata(self, link: Link) -> bytes:
        requires = INDEX[link.project][str(link.version)]
        lines = ["Metadata-Version: 2.1", f"Name: {link.project}", f"Version: {link.version}"]
        return "\n".join([*lines, *(f"Requires-Dist: {r}" for r in requires), ""]).encode()

    def prepared_metadata(self, link: Link) -> bytes:
        raise AssertionError("nothing here is dynamic")

    def unreachable(self, name: NormalizedName) -> Sequence[str]:
        return ()

    def prefetch(self, links: Sequence[Link]) -> None:
        pass

    def hint(self, wants: Iterable[tuple[NormalizedName, str, Chooser]]) -> None:
        self.hints.extend(wants)


def test_a_hint_chooses_the_file_the_requirement_allows_not_the_newest() -> None:
    source = HintRecorder()
    root = Requirement.from_pkg(PkgRequirement("app"), "command line")
    resolve(load_preset("kaggle-cpu-2026"), [root], source=source, policy=Policy())
    chosen = {(name, key): choose(source.files(name)) for name, key, choose in source.hints}
    lib = chosen[(canonicalize_name("lib"), "==1.0")]
    tool = chosen[(canonicalize_name("tool"), ">=2")]
    assert lib is not None and str(lib.version) == "1.0"  # pinned below the newest 2.0
    assert tool is not None and str(tool.version) == "3.0"  # the newest it allows


def test_the_image_base_install_skips_only_lines_that_need_an_extra() -> None:
    target = load_preset("kaggle-cpu-2026")
    name = canonicalize_name("zz-imaged")
    recorded = (
        "alpha>=1",
        'beta; extra == "docs"',
        "gamma ; extra=='test'",
        'delta; extra != "slim"',  # true without extras: kept
        'eps; python_version >= "3" and extra == "gpu"',  # not the simple form: kept, parsed
        'zeta; sys_platform == "linux"',
    )
    target = replace(
        target, installed={**target.installed, name: InstalledDist(name, "1.0", recorded)}
    )
    provider = TargetProvider(target, HintRecorder(), Policy())
    requirements = provider.image_requirements(name)
    assert requirements is not None
    assert [r.name for r in requirements] == ["alpha", "delta", "eps", "zeta"]


def test_the_roots_the_image_cannot_meet_are_hinted_before_any_page_is_read() -> None:
    class FirstAsks(HintRecorder):
        """Records which names were hinted by the time the first page is read."""

        hinted_first: list[str] | None = None

        def files(self, name: NormalizedName) -> list[Link]:
            if self.hinted_first is None:
                self.hinted_first = sorted(n for n, _, _ in self.hints)
            return super().files(name)

    source = FirstAsks()
    roots = [
        Requirement.from_pkg(PkgRequirement(text), "command line")
        for text in ("lib", "tool", "numpy")  # numpy: the image has it
    ]
    resolve(load_preset("kaggle-cpu-2026"), roots, source=source, policy=Policy())
    # All at once, so their pages come in parallel; not the image's numpy.
    assert source.hinted_first == ["lib", "tool"]
