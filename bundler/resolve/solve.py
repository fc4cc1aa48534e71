"""Resolve a closure for a target: the image's packages, what to vendor, what to build.

Runs resolvelib with :class:`~bundler.resolve.provider.TargetProvider`, then keeps the
final environment consistent where it matters: when a vendored version shadows
an image package, the image packages in scope (see :mod:`bundler.resolve.shadowing`)
whose requirements it breaks must follow — they are vendored too (torch
vendored over the image's → a matching torchvision) and the solve runs again.
Out-of-scope breaks become warnings.

Only the final resolution counts: each pass starts from the user's
requirements plus the packages that must follow *now*, and the followers,
notes and warnings are derived from the last pass's pins, never carried over
from abandoned ones.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from resolvelib import BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from bundler import __version__
from bundler.lock.model import Artifact, Lock, LockedPackage
from bundler.resolve.candidates import Candidate
from bundler.resolve.explain import ResolutionFailed, explain_impossible
from bundler.resolve.provider import Policy, TargetProvider
from bundler.resolve.requirement import PYTHON, Requirement, split_identifier
from bundler.resolve.shadowing import (
    NATIVE_DEPENDENTS,
    Break,
    find_breaks,
    image_closure,
    reachable,
)
from bundler.resolve.source import PackageSource
from bundler.target.model import Target

log = logging.getLogger(__name__)

_MAX_ROUNDS = 20_000
_MAX_SHADOW_PASSES = 8

_SCOPE_WORDS = {
    "closure": "the requirements reach it",
    "abi": "it is ABI-coupled to {name}",
    "strict": "--strict-image",
    "preloaded": "it is preloaded",
}


@dataclass
class Resolution:
    """The chosen candidates (base names only) and who requires whom.

    ``followers`` are the image packages vendored because a shadowed package
    broke them (with why, in the final state); ``warnings`` the out-of-scope
    image packages that the bundle breaks (not vendored: not to be imported);
    ``provider`` the last pass's, whose memos another resolution may share.
    """

    chosen: dict[NormalizedName, Candidate]
    dependencies: dict[NormalizedName, set[NormalizedName]]
    roots: list[Requirement]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    followers: dict[NormalizedName, Break] = field(default_factory=dict)
    provider: TargetProvider | None = None


@dataclass
class _Pass:
    chosen: dict[NormalizedName, Candidate]
    deps: dict[NormalizedName, set[NormalizedName]]
    needed: dict[NormalizedName, Break]
    broken: list[Break]
    provider: TargetProvider


def resolve(
    target: Target,
    roots: Sequence[Requirement],
    *,
    source: PackageSource,
    policy: Policy,
    reporter: BaseReporter[Requirement, Candidate, str] | None = None,
    shares: TargetProvider | None = None,
) -> Resolution:
    """Resolve ``roots`` for ``target``; raises :class:`ResolutionFailed`.

    ``shares`` is the provider of an earlier resolution over the same target
    and source, whose offers and metadata are reused.
    """
    user_roots = list(roots)
    forced: dict[NormalizedName, Break] = {}
    tried: set[frozenset[NormalizedName]] = set()
    consistent: tuple[_Pass, dict[NormalizedName, Break]] | None = None
    previous = shares
    pass_policy = policy
    for _ in range(_MAX_SHADOW_PASSES):
        tried.add(frozenset(forced))
        result = _one_pass(target, user_roots, forced, source, pass_policy, reporter, previous)
        previous = result.provider
        # The next pass tries this one's pins first: most of them still fit, and
        # the resolver then does not search its way back to them.
        earlier = {n: c.version for n, c in result.chosen.items() if c.kind != "image"}
        pass_policy = replace(policy, preferred={**earlier, **policy.preferred})
        new = {d: b for d, b in result.needed.items() if d not in forced}
        log.debug("shadow pass: %d followers needed, new: %s", len(result.needed), sorted(new))
        for b in new.values():
            log.debug("  %s (%s)", b.sentence(), b.scope)
        if new:
            forced = {**forced, **new}
        else:
            # Consistent: every follower this state needs is vendored.
            consistent = (result, forced)
            stale = set(forced) - set(result.needed)
            if not stale:
                break
            # Followers added for an earlier pass's pins that this one does not
            # need: try without them (once per set, so this cannot cycle).
            forced = {d: b for d, b in forced.items() if d in result.needed}
        if frozenset(forced) in tried:
            break
    if consistent is None:
        raise ResolutionFailed(
            "the image packages that depend on the vendored ones kept changing; "
            "gave up after several passes",
            hint="Pin the packages you vendor to versions the image's packages accept, "
            "or keep the image's copy with --keep NAME.",
        )
    final, followed = consistent
    return _resolution(target, user_roots, final, followed)


def _one_pass(
    target: Target,
    user_roots: list[Requirement],
    forced: dict[NormalizedName, Break],
    source: PackageSource,
    policy: Policy,
    reporter: BaseReporter[Requirement, Candidate, str] | None,
    shares: TargetProvider | None,
) -> _Pass:
    log.debug("shadow pass with followers %s", sorted(forced))
    pass_policy = replace(policy, excluded_image=frozenset(forced))
    provider = TargetProvider(target, source, pass_policy, shares=shares)
    roots = user_roots + [
        Requirement(d, SpecifierSet(), origin=b.sentence(), text=str(d)) for d, b in forced.items()
    ]
    resolver: Resolver[Requirement, Candidate, str] = Resolver(provider, reporter or BaseReporter())
    # resolvelib takes the roots one at a time; fetch all of theirs at once.
    provider.hint(roots)
    try:
        result = resolver.resolve(roots, max_rounds=_MAX_ROUNDS)
    except ResolutionImpossible as exc:
        raise explain_impossible(exc, provider) from exc
    except ResolutionTooDeep as exc:
        raise ResolutionFailed(
            f"gave up after {_MAX_ROUNDS} resolution rounds",
            hint="Constrain the requirements further (pin the packages that backtrack).",
        ) from exc
    chosen: dict[NormalizedName, Candidate] = {}
    deps: dict[NormalizedName, set[NormalizedName]] = {}
    for identifier, candidate in result.mapping.items():
        name, _ = split_identifier(identifier)
        if name == PYTHON:
            continue
        chosen.setdefault(name, candidate.with_extras(frozenset()))
        children = deps.setdefault(name, set())
        for child in result.graph.iter_children(identifier):
            if child is None:
                continue
            child_name, _ = split_identifier(child)
            if child_name not in (PYTHON, name):
                children.add(child_name)
    reached = reachable({r.name for r in user_roots}, lambda name: deps.get(name, ()))
    broken = _breaks(target, chosen, reached, provider, set(forced))
    needed = {b.dependent: b for b in broken if b.follows}
    for b in needed.values():
        if b.scope == "preloaded":
            raise ResolutionFailed(
                f"{b.sentence()}, and the host preloads {b.dependent}: it runs against the "
                f"bundle's {b.shadowed} whatever your code imports, and it cannot be vendored",
                hint=f"Require {b.shadowed} in a range the image's {b.dependent} accepts "
                f"({b.requirement}), or keep the image's copy with --keep {b.shadowed}.",
                packages=(b.shadowed, b.dependent),
            )
    return _Pass(chosen, deps, needed, broken, provider)


def _breaks(
    target: Target,
    chosen: dict[NormalizedName, Candidate],
    reached: set[NormalizedName],
    provider: TargetProvider,
    forced: set[NormalizedName],
) -> list[Break]:
    """The image packages the final pins break, in scope or not.

    ``reached`` is what the user's requirements reach in the resolution (the
    followers' own roots do not count). A follower is vendored, but whether it
    is still needed is a question about the image's copy: is that copy broken
    by the *other* shadowing packages of this pass?
    """
    shadowed = {
        name: c.version
        for name, c in chosen.items()
        if c.kind != "image" and name in target.installed
    }
    if not shadowed:
        return []
    in_image = [n for n in reached if n in chosen and chosen[n].kind == "image"]
    strict = provider.policy.strict_image
    wanted: set[NormalizedName] = {NormalizedName(n) for n in target.installed} if strict else set()
    wanted |= {*in_image, *(NormalizedName(n) for n in target.preloaded)}
    wanted |= {NormalizedName(d) for name in shadowed for d in NATIVE_DEPENDENTS.get(name, ())}
    _warm(provider, sorted(n for n in wanted if n in target.installed))
    closure = reached | image_closure(target, in_image, provider.image_requirements)
    _warm(provider, sorted(n for n in closure if n in target.installed))
    broken = find_breaks(
        target,
        shadowed,
        closure=closure,
        requires_of=provider.image_requirements,
        strict=strict,
    )
    for dependent in sorted(forced):
        others = {n: v for n, v in shadowed.items() if n != dependent}
        broken += find_breaks(
            target,
            others,
            closure=closure,
            requires_of=provider.image_requirements,
            strict=strict,
            only=(dependent,),
        )
    return broken


def _warm(provider: TargetProvider, names: Sequence[NormalizedName]) -> None:
    """Fetch the image requirements ``names`` will need, in parallel (I/O-bound)."""
    unknown = [n for n in names if not provider.requires_known(n)]
    if len(unknown) > 1:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(provider.image_requirements, unknown))


def _resolution(
    target: Target,
    roots: list[Requirement],
    final: _Pass,
    followed: dict[NormalizedName, Break],
) -> Resolution:
    notes: list[str] = []
    followers: dict[NormalizedName, Break] = {}
    for dependent, earlier in sorted(followed.items()):
        why = final.needed.get(dependent)
        chosen = final.chosen[dependent]
        if why is None:
            # Kept from an earlier pass because the state without it was not
            # consistent: say what its image copy needed then.
            notes.append(
                f"{dependent} is vendored at {chosen.version} (not the image's "
                f"{earlier.dependent_version}): without it the resolution needs versions the "
                f"image's copy rejects ({earlier.requirement})"
            )
            followers[dependent] = earlier
            continue
        reason = _SCOPE_WORDS.get(why.scope or "", "").format(name=why.shadowed)
        notes.append(
            f"{why.sentence()}; {dependent} follows ({reason}): vendored at {chosen.version}"
        )
        followers[dependent] = why
    warnings = [b.warning() for b in final.broken if not b.follows and b.dependent not in followed]
    for name, how in sorted(final.provider.image_requires_source.items()):
        log.info("requirements of the image's %s: %s", name, how)
    return Resolution(
        final.chosen,
        final.deps,
        roots,
        notes,
        warnings,
        followers,
        final.provider,
    )


def to_lock(
    target: Target,
    resolution: Resolution,
    requirements: Sequence[str],
    *,
    strict_image: bool = False,
) -> Lock:
    """The lock for a resolution (deterministic: everything sorted).

    ``strict_image`` is recorded so ``kbundle check`` applies the same rule.
    """
    packages = []
    for name in sorted(resolution.chosen):
        c = resolution.chosen[name]
        link = c.link
        artifact = (
            Artifact(link.url, link.filename, link.sha256, link.size, link.upload_time)
            if link is not None
            else None
        )
        shadows = None
        if c.kind != "image" and name in target.installed:
            shadows = target.installed[name].version
        packages.append(
            LockedPackage(
                name=name,
                version=str(c.version),
                source=c.source,
                wheel=artifact if c.kind == "wheel" else None,
                sdist=artifact if c.kind == "sdist" else None,
                index=link.index_url if link is not None else None,
                requires_python=link.requires_python if link is not None else None,
                dependencies=tuple(sorted(resolution.dependencies.get(name, ()))),
                shadows=shadows,
            )
        )
    marker = (
        f"sys_platform == 'linux' and platform_machine == '{target.arch}' "
        f"and python_full_version == '{target.python_full_version}'"
    )
    return Lock(
        target_name=target.name,
        target_fingerprint=target.fingerprint,
        requires_python=f"=={target.python_full_version}",
        marker=marker,
        requirements=tuple(requirements),
        packages=tuple(packages),
        kbundle_version=__version__,
        extra={"strict-image": True} if strict_image else {},
    )
