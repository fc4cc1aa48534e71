"""Turning a failed resolution into prose a user can act on.

resolvelib reports the requirements that conflicted; this module adds what
only kbundle knows — what the image has, what is preloaded, which files the
index offered and why each was unusable — and a suggestion.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from bundler.errors import KbundleError
from bundler.resolve.provider import TargetProvider
from bundler.resolve.requirement import PYTHON, Requirement, mentions_pre

if TYPE_CHECKING:
    from collections.abc import Sequence

    from resolvelib.resolvers import ResolutionImpossible

    from bundler.resolve.candidates import Candidate, Offer, Rejection


class ResolutionFailed(KbundleError):
    """No set of versions satisfies the requirements on the target (exit code 1)."""

    exit_code = 1

    def __init__(
        self, message: str, *, hint: str | None = None, packages: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, hint=hint)
        self.packages = packages


def _origin(req: Requirement, parent: Candidate | None) -> str:
    return f"required by {parent}" if parent is not None else f"from {req.origin}"


def explain_impossible(
    exc: ResolutionImpossible[Requirement, Candidate], provider: TargetProvider
) -> ResolutionFailed:
    """Describe every conflicting package: the chain, the image, the files."""
    by_name: dict[NormalizedName, list[str]] = defaultdict(list)
    specs: dict[NormalizedName, list[Requirement]] = defaultdict(list)
    for info in exc.causes:
        req, parent = info.requirement, info.parent
        by_name[req.name].append(f"{req} ({_origin(req, parent)})")
        specs[req.name].append(req)
    parts: list[str] = []
    hints: list[str] = []
    unknown: list[NormalizedName] = []
    target = provider.target
    for name, chain in sorted(by_name.items()):
        if name == PYTHON:
            parts.append(
                f"Python {target.python_full_version} of target {target.name} does not satisfy: "
                + "; ".join(sorted(set(chain)))
            )
            hints.append("Choose versions that support the target's Python.")
            continue
        text = f"{name}: " + "; ".join(sorted(set(chain)))
        dist = target.installed.get(name)
        if dist is not None:
            text += f". The image has {name} {dist.version or '(unknown version)'}"
            if name in target.preloaded:
                text += (
                    f", which is preloaded: the host imports it before your code runs, "
                    f"so no other version of {name} can be used"
                )
                hints.append(
                    f"Require the image's {name} {dist.version} (or a range that includes it), "
                    "or use a target whose image has the version you need."
                )
            elif name in provider.policy.excluded_image:
                text += (
                    f", which must follow a package this bundle ships over the image's copy: "
                    f"no other release of {name} fits"
                )
                hints.append(
                    f"Keep the image's copy of what {name} depends on (--keep NAME), or require "
                    f"versions the image's {name} {dist.version} accepts."
                )
            elif name in provider.policy.keep:
                text += f", kept with --keep {name}: no other version of {name} can be used"
                hints.append(
                    f"Drop --keep {name} to let the bundle ship another {name}, or require "
                    f"versions that work with the image's {name} {dist.version}."
                )
        offer = provider.offer(name)
        missing = _missing_pins(specs[name], offer)
        if missing and (offer.candidates or offer.rejected):
            text += ". " + "; ".join(
                f"The index has no {name} {pin}: the nearest versions it has are "
                + ", ".join(str(v) for v in _nearest(pin, offer, provider))
                for pin in missing
            )
            hints.append(f"Require a version of {name} that the index has.")
        usable = [
            c
            for c in offer.candidates
            if provider.policy.allow_pre
            or not c.version.is_prerelease
            or any(mentions_pre(q) for q in specs[name])
        ]
        none = "(pre-releases only)"
        if name in provider.policy.excluded_image and dist is not None:
            # A follower cannot be the image's own release again.
            usable = [c for c in usable if str(c.version.public) != _public(dist.version)]
            none = "(none but the image's own release)"
        if offer.candidates:
            versions = ", ".join(str(c.version) for c in usable[:8])
            more = " …" if len(usable) > 8 else ""
            text += f". Usable versions on the index: {versions or none}{more}"
            satisfiable = any(
                all(q.specifier.contains(c.version, prereleases=True) for q in specs[name])
                for c in offer.candidates
            )
            # When no usable file matches, the files that would have say why not.
            matching = [
                r
                for r in offer.rejected
                if r.version is not None
                and all(q.specifier.contains(r.version, prereleases=True) for q in specs[name])
            ]
            if matching and not satisfiable:
                text += ". Matching files the target cannot use: " + summarize(matching)
        else:
            text += ". " + _no_files(name, provider)
            hints.append(_remedy(name, provider))
            if not offer.rejected:
                unknown.append(name)
        parts.append(text)
    message = f"no set of versions works on target {target.name}: " + " | ".join(parts) + "."
    if unknown and len(by_name) == len(unknown):
        # Nothing conflicts: a name no index knows is the whole story.
        message = "no index knows " + "; ".join(
            f"{name} ({', '.join(sorted(set(by_name[name])))})" for name in unknown
        )
        hints.append(
            "Check the spelling against the project's page, or add the index that "
            "serves it (`--extra-index-url URL`, `-f DIR`)."
        )
    hint = " ".join(dict.fromkeys(h for h in hints if h)) or (
        "Relax the conflicting requirements above, or pin one side to a version the other accepts."
    )
    return ResolutionFailed(message, hint=hint, packages=tuple(sorted(by_name)))


def _public(version: str | None) -> str | None:
    try:
        return str(Version(version).public) if version else None
    except InvalidVersion:
        return version


def _missing_pins(reqs: Sequence[Requirement], offer: Offer) -> list[Version]:
    """Exact ``==`` versions asked for that no file of the index has."""
    have = {c.version for c in (*offer.candidates, *offer.yanked)}
    have |= {r.version for r in offer.rejected if r.version is not None}
    pins = []
    for req in reqs:
        for spec in req.specifier:
            if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
                try:
                    version = Version(spec.version)
                except InvalidVersion:
                    continue
                if not any(
                    v == version or (not version.local and v.public == version.public) for v in have
                ):
                    pins.append(version)
    return pins


def _nearest(pin: Version, offer: Offer, provider: TargetProvider) -> list[Version]:
    """The versions just below and above ``pin`` (finals, unless pre-releases are allowed)."""
    versions = {c.version for c in (*offer.candidates, *offer.yanked)}
    versions |= {r.version for r in offer.rejected if r.version is not None}
    if not provider.policy.allow_pre and not pin.is_prerelease:
        versions = {v for v in versions if not v.is_prerelease} or versions
    ordered = sorted(versions)
    below = [v for v in ordered if v < pin][-3:]
    above = [v for v in ordered if v > pin][:3]
    return [*below, *above]


def _no_files(name: NormalizedName, provider: TargetProvider) -> str:
    offer = provider.offer(name)
    if not offer.rejected:
        unreachable = provider.source.unreachable(name)
        if unreachable:
            return (
                f"The index that {name} is pinned to could not be reached "
                f"({'; '.join(unreachable)}), and no other index has {name}"
            )
        return f"No index knows {name} (was the name spelled right?)"
    return f"No file of {name} can be used on the target: {summarize(offer.rejected)}"


_KIND_LABELS = {
    "source": "are source distributions and building is not allowed",
    "tag": "are built for another Python or platform",
    "python": "need another Python",
    "cuda": "are built for a CUDA the target's driver cannot run",
    "yanked": "are yanked",
}


def summarize(rejections: Sequence[Rejection]) -> str:
    """Rejected files grouped by why, each group with its newest file as example."""
    groups: dict[str, list[Rejection]] = defaultdict(list)
    for r in rejections:
        groups[r.kind].append(r)
    parts = []
    for kind, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        members.sort(key=lambda r: (r.version is not None, r.version), reverse=True)
        newest = members[0]
        if len(members) == 1:
            parts.append(f"{newest.filename}: {newest.reason}")
        else:
            label = _KIND_LABELS.get(kind, kind)
            parts.append(
                f"{len(members)} files {label} (newest: {newest.filename}: {newest.reason})"
            )
    return "; ".join(parts)


def _remedy(name: NormalizedName, provider: TargetProvider) -> str:
    reasons = [r.reason for r in provider.offer(name).rejected]
    if reasons and all("source only" in r for r in reasons if "Python" not in r):
        return (
            f"{name} has only a source distribution here: allow a build with "
            f"`--build {name}`, or add an index with wheels built for the target "
            "(`--extra-index-url URL`; a {cuda} placeholder in it is filled from the "
            "target, e.g. cu121)."
        )
    if any("no tag" in r for r in reasons):
        return (
            f"No wheel of {name} is built for this target's Python and platform; "
            f"allow a build with `--build {name}` or find an index with matching wheels."
        )
    return ""
