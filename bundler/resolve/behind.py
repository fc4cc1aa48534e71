"""Requested packages that resolved far behind their newest version, and why.

A resolution can "succeed" with a release years old because every newer
one was blocked (``unsloth 2024.8`` alone, its newer releases needing a
torch the host preloads at another version). That is a silent failure of a
constraint, so each *requested* package is compared with the newest version
the target can use; when the chosen one is far behind (another major
version, or released more than a year earlier) a warning names the newest,
the constraint that ruled it out and how to lift it.

A requested package the image already has, and that nothing fixes there,
is not checked: reusing the image's copy is kbundle's rule, not a blocked
constraint, and the report shows it as "image". Checking would cost a
project page and a trial resolution for each (seconds for a data-science
set of 40 packages, nearly all on the image) and warn about most of them.
Copies fixed by the host (preloaded) or the user (``--keep``) are checked.

Pure analysis: the resolution comes in, and so does ``trial`` — a function
that re-resolves with one extra pin and returns the conflicting
requirements (resolvelib's ``causes``), or ``None`` when that resolves.
Each kind of constraint is one *detector* in :data:`DETECTORS`: a function
from the facts about one conflicting package to a :class:`Constraint` or
``None``. A new kind of constraint (a ``--keep``-style fixed package, say)
is one more detector.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from bundler.resolve.candidates import Candidate, Offer
from bundler.resolve.requirement import PYTHON, Requirement
from bundler.target.model import Target

__all__ = [
    "DETECTORS",
    "Conflict",
    "Constraint",
    "FarBehind",
    "Trial",
    "far_behind",
    "find_far_behind",
]

#: How much older than the newest usable release the chosen one may be.
MAX_AGE = timedelta(days=365)


@dataclass(frozen=True)
class Conflict:
    """One requirement that took part in a failed trial: what, and who asked."""

    requirement: Requirement
    parent: Candidate | None


#: ``trial(name, version)``: resolve again with ``name==version`` added; the
#: conflicting requirements when that fails, ``None`` when it resolves.
Trial = Callable[[NormalizedName, Version], "Sequence[Conflict] | None"]


@dataclass(frozen=True)
class Constraint:
    """What kept a newer version out: its kind, the package it is on, how to lift it.

    ``kind`` is one of "preloaded", "kept", "pin", "lock", "target".
    """

    kind: str
    package: str
    detail: str
    lift: str


@dataclass(frozen=True)
class FarBehind:
    """A requested package resolved to ``chosen`` while ``newest`` would run on the target."""

    name: str
    chosen: Version
    newest: Version
    gap: str
    constraints: tuple[Constraint, ...]

    def message(self) -> str:
        why = "; ".join(c.detail for c in self.constraints)
        lift = " ".join(dict.fromkeys(c.lift for c in self.constraints))
        return (
            f"{self.name} resolved to {self.chosen}, far behind {self.newest}, the newest "
            f"version for this target ({self.gap}): {why}. To lift it: {lift}"
        )


@dataclass(frozen=True)
class Facts:
    """What a detector sees about one package ``name`` in a failed trial."""

    name: NormalizedName
    target: Target
    conflicts: tuple[Conflict, ...]
    #: ``-c`` constraints by name (they filter candidates, so no requirement shows them).
    constraints: Mapping[NormalizedName, SpecifierSet] = field(default_factory=dict)
    #: Names fixed to the image's copy by the user (``--keep``), when supported.
    kept: frozenset[NormalizedName] = frozenset()


def _needs(facts: Facts) -> str:
    asks = [f"{c.parent} requires {c.requirement}" for c in facts.conflicts if c.parent]
    return ", ".join(sorted(set(asks))) or f"{facts.name} is needed"


def _preloaded(facts: Facts) -> Constraint | None:
    if facts.name not in facts.target.preloaded:
        return None
    dist = facts.target.installed.get(facts.name)
    have = f"at {dist.version}" if dist is not None and dist.version else "(not in the image)"
    return Constraint(
        "preloaded",
        facts.name,
        f"{_needs(facts)}, and {facts.name} is preloaded by the host {have}, so only the "
        "image's copy can load",
        f"use a target whose image has a newer {facts.name}, or, if the host does not "
        f"import it first, drop it from the preloaded list (--preloaded NAMES).",
    )


def _kept(facts: Facts) -> Constraint | None:
    if facts.name not in facts.kept:
        return None
    dist = facts.target.installed.get(facts.name)
    return Constraint(
        "kept",
        facts.name,
        f"{_needs(facts)}, and {facts.name} is kept at the image's "
        f"{dist.version if dist else 'copy'}",
        f"stop keeping {facts.name} (--keep).",
    )


def _user_pin(facts: Facts) -> Constraint | None:
    # A bare root requirement (`torch`) rules nothing out; a range or a pin may.
    pins = [
        str(c.requirement) for c in facts.conflicts if c.parent is None and c.requirement.specifier
    ]
    if facts.name in facts.constraints:
        pins.append(f"{facts.name}{facts.constraints[facts.name]} (a constraint)")
    if not pins:
        return None
    return Constraint(
        "pin",
        facts.name,
        f"{_needs(facts)}, and your requirements say {', '.join(sorted(set(pins)))}",
        f"relax your requirement on {facts.name}.",
    )


def _python(facts: Facts) -> Constraint | None:
    if facts.name != PYTHON:
        return None
    return Constraint(
        "target",
        "Python",
        f"{_needs(facts)}, and the target has Python {facts.target.python_full_version}",
        "use a target with a newer Python.",
    )


def _target(facts: Facts) -> Constraint:
    """The fallback: no version of the package usable on the target fits."""
    return Constraint(
        "target",
        facts.name,
        f"{_needs(facts)}, and no version of {facts.name} usable on {facts.target.name} "
        "satisfies that together with the rest",
        f"see which {facts.name} files the index has with `kbundle lock {facts.name}` "
        "(its error lists them).",
    )


#: Detectors, asked in order for each conflicting package; the first answer wins.
DETECTORS: list[Callable[[Facts], Constraint | None]] = [_python, _preloaded, _kept, _user_pin]


def far_behind(
    chosen: Version, chosen_time: str | None, newest: Version, newest_time: str | None
) -> str | None:
    """Why ``chosen`` counts as far behind ``newest`` (for a message), or None."""
    if newest <= chosen:
        return None
    if newest.major != chosen.major:
        return f"another major version, {newest.major} vs {chosen.major}"
    if chosen_time and newest_time:
        try:
            age = _when(newest_time) - _when(chosen_time)
        except ValueError:
            return None
        if age > MAX_AGE:
            return f"released {age.days // 30} months later"
    return None


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _time_of(candidate: Candidate, offer: Offer) -> str | None:
    if candidate.link is not None:
        return candidate.link.upload_time
    public = Version(candidate.version.public)
    for other in offer.candidates:  # an image copy: the index's file of that version
        if Version(other.version.public) == public and other.link is not None:
            return other.link.upload_time
    return None


def find_far_behind(
    target: Target,
    roots: Sequence[Requirement],
    chosen: Mapping[NormalizedName, Candidate],
    offer: Callable[[NormalizedName], Offer],
    trial: Trial,
    *,
    allow_pre: bool = False,
    preferred: Mapping[NormalizedName, Version] | None = None,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
    kept: frozenset[NormalizedName] = frozenset(),
) -> list[FarBehind]:
    """Every requested package far behind its newest usable version, with why.

    A root whose own specifier excludes the newest version is left alone: the
    user asked for the old one. ``preferred`` are the previous lock's pins.
    """
    found: list[FarBehind] = []
    trial = _memoised(trial)
    for root in roots:
        candidate = chosen.get(root.name)
        if candidate is None:
            continue
        if candidate.kind == "image" and not (root.name in target.preloaded or root.name in kept):
            continue  # the image's copy by kbundle's rule (see the module docstring)
        usable = [
            c for c in offer(root.name).candidates if allow_pre or not c.version.is_prerelease
        ]
        if not usable:
            continue
        newest = usable[0]
        if not root.specifier.contains(newest.version, prereleases=True):
            continue
        gap = far_behind(
            candidate.version,
            _time_of(candidate, offer(root.name)),
            newest.version,
            _time_of(newest, offer(root.name)),
        )
        if gap is None:
            continue
        why = _lock_pin(root.name, candidate, preferred or {})
        if why is None:
            conflicts = trial(root.name, newest.version) or ()
            why = tuple(
                _explain(name, target, conflicts, constraints or {}, kept)
                for name in _conflicting(root.name, conflicts)
            )
        if why:
            found.append(FarBehind(root.name, candidate.version, newest.version, gap, why))
    return found


def _memoised(trial: Trial) -> Trial:
    """Each trial is a resolution: run it once per (name, version)."""
    results: dict[tuple[NormalizedName, Version], Sequence[Conflict] | None] = {}

    def run(name: NormalizedName, version: Version) -> Sequence[Conflict] | None:
        if (name, version) not in results:
            results[name, version] = trial(name, version)
        return results[name, version]

    return run


def _lock_pin(
    name: NormalizedName, candidate: Candidate, preferred: Mapping[NormalizedName, Version]
) -> tuple[Constraint, ...] | None:
    """The cheap answer that needs no trial: the existing lock's pin was kept."""
    if preferred.get(name) == candidate.version:
        return (
            Constraint(
                "lock",
                name,
                f"the existing lock pins {name} {candidate.version}",
                f"re-lock with -P {name} (or -U for everything).",
            ),
        )
    return None


def _conflicting(name: NormalizedName, conflicts: Sequence[Conflict]) -> list[NormalizedName]:
    """The packages the trial's conflict is about; the pinned package itself when none other."""
    names = sorted({c.requirement.name for c in conflicts} - {name})
    return names or [name]


def _explain(
    name: NormalizedName,
    target: Target,
    conflicts: Sequence[Conflict],
    constraints: Mapping[NormalizedName, SpecifierSet],
    kept: frozenset[NormalizedName],
) -> Constraint:
    facts = Facts(
        name,
        target,
        tuple(c for c in conflicts if c.requirement.name == name),
        constraints,
        kept,
    )
    for detect in DETECTORS:
        found = detect(facts)
        if found is not None:
            return found
    return _target(facts)
