"""Resolve a closure for a target: the image's packages, what to vendor, what to build.

Runs resolvelib with :class:`~bundler.provider.TargetProvider`, then keeps the
final environment consistent: when a vendored version shadows an image
package, every image package that depends on it must still have its
requirement met, or it joins the resolution as a package to vendor too
(torch vendored over the image's → a matching torchvision), and the solve
runs again. The result becomes a :class:`~bundler.lock_model.Lock`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from resolvelib import BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from bundler import __version__
from bundler.candidates import Candidate
from bundler.explain import ResolutionFailed, explain_impossible
from bundler.lock_model import Artifact, Lock, LockedPackage
from bundler.provider import (
    PYTHON,
    PackageSource,
    Policy,
    Requirement,
    TargetProvider,
    split_identifier,
)
from bundler.target import Target

log = logging.getLogger(__name__)

_MAX_ROUNDS = 20_000
_MAX_SHADOW_PASSES = 8


@dataclass
class Resolution:
    """The chosen candidates (base names only) and who requires whom."""

    chosen: dict[NormalizedName, Candidate]
    dependencies: dict[NormalizedName, set[NormalizedName]]
    roots: list[Requirement]
    notes: list[str] = field(default_factory=list)


def resolve(
    target: Target,
    roots: Sequence[Requirement],
    *,
    source: PackageSource,
    policy: Policy,
    reporter: BaseReporter[Requirement, Candidate, str] | None = None,
) -> Resolution:
    """Resolve ``roots`` for ``target``; raises :class:`ResolutionFailed`."""
    roots = list(roots)
    notes: list[str] = []
    for _ in range(_MAX_SHADOW_PASSES):
        provider = TargetProvider(target, source, policy)
        resolver: Resolver[Requirement, Candidate, str] = Resolver(
            provider, reporter or BaseReporter()
        )
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
        broken = _broken_dependents(target, chosen, provider)
        if not broken:
            return Resolution(chosen, deps, roots, notes + _requires_notes(provider))
        for dependent, why in broken:
            notes.append(why)
            log.info("%s", why)
            policy.excluded_image.add(dependent)
            roots.append(Requirement(dependent, SpecifierSet(), origin=why, text=f"{dependent}"))
    raise ResolutionFailed(
        "the image packages that depend on the vendored ones kept changing; "
        "gave up after several passes",
        hint="Pin the packages you vendor to versions the image's packages accept.",
    )


def _broken_dependents(
    target: Target, chosen: dict[NormalizedName, Candidate], provider: TargetProvider
) -> list[tuple[NormalizedName, str]]:
    """Image packages whose requirement on a shadowed package is no longer met."""
    shadowed = {
        name: c for name, c in chosen.items() if c.kind != "image" and name in target.installed
    }
    if not shadowed:
        return []
    dependents = [
        canonicalize_name(n)
        for n in target.installed
        if canonicalize_name(n) not in chosen or chosen[canonicalize_name(n)].kind == "image"
    ]
    # Fetching the image packages' requirements is I/O-bound and independent.
    with ThreadPoolExecutor(max_workers=16) as pool:
        requires = dict(zip(dependents, pool.map(provider.image_requires, dependents), strict=True))
    broken: list[tuple[NormalizedName, str]] = []
    env = dict(target.markers)
    for dependent, meta in sorted(requires.items()):
        if meta is None:
            continue
        for req in meta.requires_dist:
            name = canonicalize_name(req.name)
            if name not in shadowed:
                continue
            if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
                continue
            if req.specifier.contains(shadowed[name].version, prereleases=True):
                continue
            image_version = target.installed[dependent].version
            broken.append(
                (
                    dependent,
                    f"the image's {dependent} {image_version} requires {req}, but "
                    f"{name} {shadowed[name].version} is vendored over the image's "
                    f"{target.installed[name].version}; {dependent} is vendored too",
                )
            )
            break
    return broken


def _requires_notes(provider: TargetProvider) -> list[str]:
    return [
        f"requirements of the image's {name}: {how}"
        for name, how in sorted(provider.image_requires_source.items())
    ]


def to_lock(target: Target, resolution: Resolution, requirements: Sequence[str]) -> Lock:
    """The lock for a resolution (deterministic: everything sorted)."""
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
    )
