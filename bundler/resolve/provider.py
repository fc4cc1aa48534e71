"""The resolvelib provider: resolution policy for a target image, and nothing else.

It never touches the network or the disk: project files and metadata come
from an injected :class:`PackageSource`. Markers, extras and Requires-Python
are evaluated for the target, never for the host.

Requirements and identifiers are :mod:`bundler.resolve.requirement`'s; the
source of files and metadata is :mod:`bundler.resolve.source`'s.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from packaging.requirements import Requirement as PkgRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from bundler.errors import KbundleError
from bundler.index.metadata import DistMetadata, parse_core_metadata, parse_requirement_strings
from bundler.index.simple_api import Link
from bundler.resolve.candidates import Candidate, Offer, build_offer, tag_ranks
from bundler.resolve.requirement import PYTHON, Requirement, is_pin, mentions_pre, split_identifier
from bundler.resolve.source import Chooser, PackageSource
from bundler.target.model import Target

log = logging.getLogger(__name__)

#: A requirement that applies only with one extra and nothing else in its marker.
_EXTRA_ONLY = re.compile(r"""^[^;]*;\s*extra\s*==\s*("[^"]*"|'[^']*')\s*$""")
#: Older versions whose metadata is fetched ahead while the resolver backtracks.
_PREFETCH_AHEAD = 4


@dataclass
class Policy:
    """Choices the user makes: what may be built, pins to keep, pre-releases.

    ``keep`` names image packages fixed at the image's version (as if
    preloaded); ``strict_image`` keeps the whole image consistent rather than
    the scope :mod:`bundler.resolve.shadowing` describes. ``excluded_image`` is the
    resolver's own: image packages that must follow a shadowed one, so only a
    different release from the index will do.
    """

    may_build: frozenset[str] = frozenset()
    allow_pre: bool = False
    preferred: Mapping[NormalizedName, Version] = field(default_factory=dict)
    constraints: Mapping[NormalizedName, SpecifierSet] = field(default_factory=dict)
    excluded_image: frozenset[NormalizedName] = frozenset()
    keep: frozenset[NormalizedName] = frozenset()
    strict_image: bool = False

    def builds(self, name: NormalizedName) -> bool:
        return ":all:" in self.may_build or name in self.may_build


class TargetProvider(AbstractProvider[Requirement, Candidate, str]):
    """Resolution policy for one target (see module docstring)."""

    def __init__(
        self,
        target: Target,
        source: PackageSource,
        policy: Policy,
        *,
        shares: TargetProvider | None = None,
    ) -> None:
        self.target = target
        self.source = source
        self.policy = policy
        self.python = Candidate(
            NormalizedName(PYTHON), Version(target.python_full_version), "image"
        )
        self._ranks = tag_ranks(target.tags)
        self._offers: dict[NormalizedName, Offer] = {}
        self._metadata: dict[Candidate, DistMetadata] = {}
        self.image_requires_source: dict[NormalizedName, str] = {}
        self._image_reqs: dict[NormalizedName, tuple[PkgRequirement, ...] | None] = {}
        self._satisfied: dict[int, tuple[Requirement, dict[Version, bool]]] = {}
        if shares is not None and shares.policy.may_build == policy.may_build:
            # Another pass over the same target: offers and metadata do not
            # depend on which image packages are kept or excluded.
            self._offers = shares._offers
            self._metadata = shares._metadata
            self.image_requires_source = shares.image_requires_source
            self._image_reqs = shares._image_reqs

    # -- candidates ---------------------------------------------------------------------

    def fixed(self, name: NormalizedName) -> bool:
        """Is only the image's copy of ``name`` allowed (preloaded or ``--keep``)?"""
        return name in self.target.preloaded or name in self.policy.keep

    def offer(self, name: NormalizedName) -> Offer:
        """What the indexes offer for ``name`` on the target (memoised)."""
        if name not in self._offers:
            self._offers[name] = build_offer(
                name,
                self.source.files(name),
                self.target,
                self._ranks,
                may_build=self.policy.builds(name),
            )
        return self._offers[name]

    def image_candidate(self, name: NormalizedName) -> Candidate | None:
        dist = self.target.installed.get(name)
        if dist is None or dist.version is None:
            return None
        try:
            version = Version(dist.version)
        except InvalidVersion:
            return None
        return Candidate(name, version, "image", installed=dist)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Callable[[], Iterator[Candidate]]:
        name, extras = split_identifier(identifier)
        reqs = list(requirements[identifier])
        bad = set(incompatibilities[identifier])
        # Lazy on purpose: when the image's copy fits (the common case), the
        # resolver takes it without the index page ever being fetched.
        return lambda: self._matches(name, extras, reqs, bad)

    def _matches(
        self,
        name: NormalizedName,
        extras: frozenset[str],
        reqs: list[Requirement],
        bad: set[Candidate],
    ) -> Iterator[Candidate]:
        if name == PYTHON:
            if all(self.is_satisfied_by(r, self.python) for r in reqs):
                yield self.python
            return
        exact = [r.exact for r in reqs if r.exact is not None]
        if exact:
            candidate = exact[0].with_extras(extras) if extras else exact[0]
            if candidate not in bad and all(self.is_satisfied_by(r, candidate) for r in reqs):
                yield candidate
            return
        constraint = self.policy.constraints.get(name)
        image = self.image_candidate(name)
        if self.fixed(name):
            # The host imported it before user code (or the user keeps it): only
            # the image's copy will do.
            pool: list[Candidate] = [image] if image is not None else []
        else:
            fitting_image = image.with_extras(extras) if image and extras else image
            if (
                fitting_image is not None
                and name not in self.policy.excluded_image
                and self._fits(fitting_image, reqs, bad, constraint)
            ):
                yield fitting_image
            pool = self._index_pool(name, reqs)
            if image is not None:
                # The image's own release again from the index adds nothing (and
                # cannot fix a package that must follow: same release, same needs).
                same = image.version.public if name in self.policy.excluded_image else None
                pool = [c for c in pool if c.version != image.version and c.version.public != same]
        fits = [
            c
            for c in (p.with_extras(extras) if extras else p for p in pool)
            if self._fits(c, reqs, bad, constraint)
        ]
        if not self.policy.allow_pre and not any(mentions_pre(r) for r in reqs):
            finals = [c for c in fits if not c.version.is_prerelease or c.kind == "image"]
            # PEP 440: pre-releases only when nothing else satisfies.
            fits = finals or fits
        seen: set[Candidate] = set()
        for candidate in fits:
            if candidate not in seen:
                seen.add(candidate)
                yield candidate

    def _index_pool(self, name: NormalizedName, reqs: Sequence[Requirement]) -> list[Candidate]:
        offer = self.offer(name)
        pool: list[Candidate] = []
        preferred = self.policy.preferred.get(name)
        if preferred is not None:
            pool.extend(c for c in offer.candidates if c.version == preferred)
        pool.extend(offer.candidates)
        if any(is_pin(r) for r in reqs):
            pool.extend(offer.yanked)
        return pool

    def _fits(
        self,
        candidate: Candidate,
        reqs: Sequence[Requirement],
        bad: set[Candidate],
        constraint: SpecifierSet | None,
    ) -> bool:
        if candidate in bad:
            return False
        if constraint is not None and not constraint.contains(candidate.version, prereleases=True):
            return False
        return all(self.is_satisfied_by(r, candidate) for r in reqs)

    # -- requirements -------------------------------------------------------------------

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        if isinstance(requirement_or_candidate, Requirement):
            return requirement_or_candidate.identifier
        c = requirement_or_candidate
        if c.extras:
            return f"{c.name}[{','.join(sorted(c.extras))}]"
        return c.name

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        if requirement.exact is not None:
            return (
                candidate.version == requirement.exact.version
                and candidate.kind == requirement.exact.kind
            )
        # resolvelib re-checks every pin against every requirement on each round
        # (hundreds of thousands of checks on a rich resolution): answer each
        # (requirement, version) pair once. Keyed by identity, the entry keeps the
        # requirement alive so its id is not reused.
        entry = self._satisfied.get(id(requirement))
        if entry is None or entry[0] is not requirement:
            entry = self._satisfied[id(requirement)] = (requirement, {})
        answers = entry[1]
        answer = answers.get(candidate.version)
        if answer is None:
            # Installed and explicitly requested versions may be pre-releases.
            answer = requirement.specifier.contains(candidate.version, prereleases=True)
            answers[candidate.version] = answer
        return answer

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]],
    ) -> tuple[bool, bool, bool, bool, str]:
        infos = list(information[identifier])
        pinned = any(is_pin(i.requirement) for i in infos)
        root = any(i.parent is None for i in infos)
        caused = any(
            identifier in (c.requirement.identifier, c.parent and self.identify(c.parent))
            for c in backtrack_causes
        )
        # Cheap, decisive ones first: the interpreter, pins, conflict causes, roots.
        return (identifier != PYTHON, not pinned, not caused, not root, identifier)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        if candidate.name == PYTHON:
            return []
        deps: list[Requirement] = []
        if candidate.extras:
            base = Candidate(
                candidate.name,
                candidate.version,
                candidate.kind,
                candidate.link,
                candidate.installed,
            )
            deps.append(
                Requirement(
                    candidate.name,
                    SpecifierSet(),
                    origin=str(candidate),
                    text=f"{candidate.name}=={candidate.version}",
                    exact=base,
                )
            )
        elif candidate.kind == "image":
            # The image is internally consistent: its own requirements are not
            # re-resolved (its torch+cu121 is not the index's torch).
            return []
        else:
            self._prefetch_older(candidate)
        meta = self.metadata(candidate)
        if candidate.kind != "image" and meta.requires_python:
            deps.append(
                Requirement(
                    NormalizedName(PYTHON),
                    SpecifierSet(meta.requires_python),
                    origin=str(candidate),
                    text=f"Requires-Python {meta.requires_python}",
                )
            )
        deps.extend(self._marker_filtered(meta, candidate))
        self.hint(deps)
        return deps

    def hint(self, requirements: Iterable[Requirement]) -> None:
        """Tell the source what the resolver will ask about next, so it can fetch
        the pages and metadata in parallel: requirements the image cannot meet."""
        self.source.hint(
            (r.name, str(r.specifier), self._chooser(r.specifier))
            for r in requirements
            if r.name != PYTHON and not self._image_fits(r)
        )

    def _prefetch_older(self, candidate: Candidate) -> None:
        # Past the newest version the resolver is backtracking through this
        # project, one version at a time: fetch the next few ahead of it.
        offer = self._offers.get(candidate.name)
        if offer is None or not offer.candidates or offer.candidates[0] == candidate:
            return
        try:
            at = offer.candidates.index(candidate)
        except ValueError:
            return
        ahead = offer.candidates[at + 1 : at + 1 + _PREFETCH_AHEAD]
        self.source.prefetch([c.link for c in ahead if c.link is not None])

    def _image_fits(self, req: Requirement) -> bool:
        image = self.image_candidate(req.name)
        return image is not None and req.specifier.contains(image.version, prereleases=True)

    def _chooser(self, specifier: SpecifierSet) -> Chooser:
        """The file whose metadata the resolver will want first for a requirement:
        the best candidate its specifier allows. Not simply the newest: an LLM
        stack pins exact versions (vllm: ``torch==2.9.0``), and prefetching the
        newest torch left the resolver to fetch the pinned one itself, in turn."""

        def choose(links: Sequence[Link]) -> Link | None:
            if not links:
                return None
            # The same memoised offer the resolver uses (``links`` are the source's).
            for candidate in self.offer(links[0].project).candidates:
                if specifier.contains(candidate.version):
                    return candidate.link
            return None

        return choose

    def _marker_filtered(self, meta: DistMetadata, candidate: Candidate) -> Iterator[Requirement]:
        wanted = candidate.extras
        for req in meta.requires_dist:
            if req.marker is not None:
                contexts = [""] if not wanted else sorted(wanted)
                if not any(self.target.marker_true(req.marker, e) for e in contexts):
                    continue
                # With extras, keep only lines that need one of them: the base
                # candidate's own lines come through the base dependency.
                if wanted and self.target.marker_true(req.marker):
                    continue
            elif wanted:
                continue
            yield Requirement.from_pkg(req, origin=f"{candidate.name} {candidate.version}")

    def metadata(self, candidate: Candidate) -> DistMetadata:
        """Requirements of a candidate (for image ones: captured, else the index's)."""
        key = Candidate(candidate.name, candidate.version, candidate.kind, candidate.link)
        if key not in self._metadata:
            self._metadata[key] = self._load_metadata(candidate)
        return self._metadata[key]

    def _load_metadata(self, candidate: Candidate) -> DistMetadata:
        if candidate.kind == "image":
            return self.image_requires(candidate.name) or DistMetadata((), None)
        assert candidate.link is not None
        data = self.source.metadata(candidate.link)
        if data is None:
            # Dynamic metadata: only the build backend knows, and running it means
            # running the package's code, which building was allowed to do.
            if not self.policy.builds(candidate.name):  # pragma: no cover - sdists need it
                raise KbundleError(f"{candidate.link.filename} has dynamic metadata")
            data = self.source.prepared_metadata(candidate.link)
        return parse_core_metadata(data, candidate.link.filename)

    def image_requires(self, name: NormalizedName) -> DistMetadata | None:
        """The requirements of the image's copy of ``name``, or None if unknown.

        Captured requirements when the target has them, or those its preset
        recorded from the index (:class:`~bundler.target.model.IndexFacts`); else the index metadata
        of the same public version (the closest thing), recorded in
        :attr:`image_requires_source` so reports can say which was used.
        """
        dist = self.target.installed.get(name)
        if dist is None:
            return None
        recorded = self.target.recorded_requires(name)
        if recorded is not None:
            return parse_requirement_strings(recorded, f"image {name}")
        if dist.version is None:
            return None
        public = Version(dist.version).public
        for candidate in self.offer(name).candidates:
            if candidate.version.public == public and candidate.kind == "wheel":
                self.image_requires_source[name] = f"index metadata of {name} {public}"
                return self.metadata(candidate)
        return None

    def image_requirements(self, name: NormalizedName) -> tuple[PkgRequirement, ...] | None:
        """The requirements of the image's base install of ``name`` (memoised; safe
        from threads): :meth:`image_requires` without the lines that apply only
        with an extra, which the scope and break checks, evaluating markers with
        no extra, never follow."""
        if name not in self._image_reqs:
            recorded = self.target.recorded_requires(name)
            if recorded is not None:
                # Most recorded lines are ``x; extra == "docs"`` (5,451 of 7,877 on
                # kaggle-t4): not parsing them was a tenth of a small rich lock.
                base = tuple(text for text in recorded if not _EXTRA_ONLY.match(text))
                parsed = parse_requirement_strings(base, f"image {name}").requires_dist
                self._image_reqs[name] = parsed
                return parsed
            try:
                meta = self.image_requires(name)
            except KbundleError as exc:
                # An image package whose index copy cannot be read is left unknown:
                # it cannot be checked, and the lock does not fail for it.
                log.warning("requirements of the image's %s: %s", name, exc)
                meta = None
            self._image_reqs[name] = meta.requires_dist if meta is not None else None
        return self._image_reqs[name]

    def requires_known(self, name: NormalizedName) -> bool:
        """Are the image's requirements of ``name`` known without fetching anything?"""
        return name in self._image_reqs or self.target.recorded_requires(name) is not None
