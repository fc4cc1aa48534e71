"""``kbundle lock`` as a library call: inputs gathered, resolved, made a Lock.

This is the I/O edge around the pure resolver: it builds the HTTP client and
finder (unless the caller passes its own source or client), keeps a previous
lock's pins, and times the run. The request itself is assembled in
:mod:`bundler.request.assemble`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from bundler.errors import InputError, KbundleError
from bundler.index.finder import Finder
from bundler.lock.model import Lock
from bundler.lock.prefetch import PrefetchingSource
from bundler.net.client import HttpClient
from bundler.request.model import LockRequest
from bundler.request.requirements_file import Req
from bundler.resolve.behind import Conflict, find_far_behind
from bundler.resolve.candidates import Candidate
from bundler.resolve.provider import Policy, TargetProvider
from bundler.resolve.requirement import Requirement
from bundler.resolve.shadow_cost import ShadowCost, shadow_costs
from bundler.resolve.solve import Resolution, resolve, to_lock
from bundler.resolve.source import PackageSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockOutcome:
    lock: Lock
    resolution: Resolution
    seconds: float
    shadow_costs: tuple[ShadowCost, ...] = ()
    #: Requested packages far behind their newest usable version, and why.
    warnings: tuple[str, ...] = ()


def kept_pins(request: LockRequest) -> dict[NormalizedName, Version]:
    """Versions of the previous lock to prefer (all but those being upgraded)."""
    if request.previous is None or request.upgrade:
        return {}
    pins: dict[NormalizedName, Version] = {}
    for package in request.previous.packages:
        name = canonicalize_name(package.name)
        if name in request.upgrade_packages or package.source == "image":
            continue
        try:
            pins[name] = Version(package.version)
        except InvalidVersion:
            continue
    return pins


def _check_supported(reqs: Sequence[Req]) -> None:
    for req in reqs:
        if req.requirement.url:
            raise InputError(
                f"'{req.requirement}' is a direct URL requirement, which kbundle cannot lock yet",
                source=req.location,
                hint="Put the file in a --find-links folder and require it by name and version.",
            )


def _constraints(reqs: Sequence[Req]) -> dict[NormalizedName, SpecifierSet]:
    merged: dict[NormalizedName, SpecifierSet] = {}
    for req in reqs:
        merged[req.name] = merged.get(req.name, SpecifierSet()) & req.requirement.specifier
    return merged


def run_lock(
    request: LockRequest,
    *,
    source: PackageSource | None = None,
    client: HttpClient | None = None,
) -> LockOutcome:
    """Resolve ``request`` and return the lock (nothing is written here).

    Files and metadata come from ``source`` when given (a fake in tests, or
    a source the caller shares between runs); else from a prefetching finder
    over ``request.index`` that fetches through ``client`` (default: an
    :class:`~bundler.net.client.HttpClient` with the request's ``offline`` and
    ``refresh``). Give one of the two, not both.
    """
    if source is not None and client is not None:
        raise TypeError("run_lock: give source or client, not both")
    started = time.perf_counter()
    _check_supported([*request.requirements, *request.constraints])
    policy = Policy(
        may_build=request.build,
        allow_pre=request.pre,
        preferred=kept_pins(request),
        constraints=_constraints(request.constraints),
        keep=request.keep,
        strict_image=request.strict_image,
    )
    roots = [
        Requirement.from_pkg(r.requirement, r.location)
        for r in request.requirements
        # Markers are the target's, never the host's.
        if request.target.marker_true(r.requirement.marker)
    ]
    roots_names = {r.name for r in roots}
    with _source(request, source, client) as source:
        resolution = resolve(request.target, roots, source=source, policy=policy)

        def keeping(name: NormalizedName) -> Resolution:
            # The first lock's other pins first: most still fit.
            pins = {n: c.version for n, c in resolution.chosen.items() if c.kind != "image"}
            pins = {n: v for n, v in pins.items() if n != name and n not in roots_names}
            kept = replace(
                policy, keep=policy.keep | {name}, preferred={**pins, **policy.preferred}
            )
            return resolve(
                request.target, roots, source=source, policy=kept, shares=resolution.provider
            )

        costs = shadow_costs(
            request.target,
            resolution,
            [str(r.requirement) for r in request.requirements],
            resolve_keeping=keeping,
            keep=sorted(request.keep),
            options=request.target_options,
        )
        warnings = _far_behind(request, roots, resolution, source, policy)
    lock = to_lock(
        request.target,
        resolution,
        [str(r.requirement) for r in request.requirements],
        strict_image=request.strict_image,
    )
    return LockOutcome(lock, resolution, time.perf_counter() - started, tuple(costs), warnings)


def _source(
    request: LockRequest, source: PackageSource | None, client: HttpClient | None
) -> AbstractContextManager[PackageSource]:
    """The caller's source as it is (the caller closes it), or a new prefetching finder."""
    if source is not None:
        return nullcontext(source)
    if client is None:
        client = HttpClient(offline=request.offline, refresh=request.refresh)
    return PrefetchingSource(Finder(request.index, client))


def _far_behind(
    request: LockRequest,
    roots: Sequence[Requirement],
    resolution: Resolution,
    source: PackageSource,
    policy: Policy,
) -> tuple[str, ...]:
    """Warnings for requested packages far behind their newest version (see bundler.resolve.behind).

    Advice only: a failure to look (offline, an index error) never fails the lock.
    """
    provider = TargetProvider(request.target, source, policy)

    def trial(name: NormalizedName, version: Version) -> list[Conflict] | None:
        pin = Requirement(name, SpecifierSet(f"=={version}"), origin="a newer-version check")
        resolver: Resolver[Requirement, Candidate, str] = Resolver(
            TargetProvider(request.target, source, policy), BaseReporter()
        )
        try:
            resolver.resolve([*roots, pin], max_rounds=2_000)
        except ResolutionImpossible as exc:
            return [Conflict(c.requirement, c.parent) for c in exc.causes if c.requirement != pin]
        except ResolutionTooDeep:
            return []
        return None

    try:
        found = find_far_behind(
            request.target,
            roots,
            resolution.chosen,
            provider.offer,
            trial,
            allow_pre=request.pre,
            preferred=policy.preferred,
            constraints=policy.constraints,
            kept=frozenset(policy.keep),
        )
    except KbundleError as exc:
        log.debug("newer-version check skipped: %s", exc)
        return ()
    return tuple(f.message() for f in found)
