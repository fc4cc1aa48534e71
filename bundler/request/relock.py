"""Locking over an existing lock: the request that keeps its pins, and when to lock again.

``kbundle lock`` always locks, keeping the pins of the lock it replaces
(:func:`relock_request`). ``kbundle vendor`` vendors the lock at its path as it
is, unless something says it is out of date (:func:`plan_vendor_lock`). Both
decisions live here, not in the commands, so an API caller gets the same ones.
The caller reads the existing lock (the lock stage's job, below this one) and
passes it in; nothing here writes or resolves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bundler.errors import InputError
from bundler.lock.model import Lock
from bundler.request.assemble import gather_request
from bundler.request.config import Config
from bundler.request.model import LockOptions, LockRequest
from bundler.target.model import Target


def relock_request(
    options: LockOptions,
    config: Config,
    *,
    requirements: Sequence[str],
    target: Target,
    existing: Lock | None,
    require_input: bool = True,
) -> LockRequest:
    """The request to lock ``requirements`` with, over the ``existing`` lock (None: none).

    The existing lock's pins are kept while they still fit, unless
    ``--upgrade``; ``require_input`` is :func:`gather_request`'s.
    """
    return gather_request(
        options,
        config,
        requirements=requirements,
        target=target,
        previous=None if options.upgrade else existing,
        require_input=require_input,
    )


@dataclass(frozen=True)
class VendorLockPlan:
    """What ``kbundle vendor`` does about its lock.

    ``reuse`` is the existing lock to vendor as it is; None means lock
    ``request`` first. Either way ``request`` carries the indexes and build
    permissions the vendor step fetches with.
    """

    request: LockRequest
    reuse: Lock | None


def plan_vendor_lock(
    options: LockOptions,
    config: Config,
    *,
    requirements: Sequence[str],
    target: Target,
    path: Path,
    existing: Lock | None,
) -> VendorLockPlan:
    """Lock again before vendoring, or vendor the ``existing`` lock read from ``path``?

    ``existing`` is None when there is no lock file at ``path``. It is locked
    (again) when there is none, or when requirements are given as arguments
    or with ``-r`` (keeping the existing pins that still fit, as ``kbundle
    lock`` does), or when ``[tool.kbundle]`` requirements changed since it
    was made. No lock and no requirement anywhere is an :class:`InputError`.
    """
    typed = bool(requirements or options.requirement_files)
    from_config = bool(config.requirements or config.requirements_files)
    if existing is None and not (typed or from_config):
        raise InputError(
            "no such lock file, and no requirements to lock it from",
            source=str(path),
            hint=f"Write it first with `kbundle lock REQUIREMENT... -o {path}`, or give "
            "requirements to `kbundle vendor` to lock them now.",
        )
    relock = typed or existing is None
    request = relock_request(
        options,
        config,
        requirements=requirements,
        target=target,
        existing=existing,
        require_input=relock,
    )
    if existing is not None and not relock and from_config:
        # [tool.kbundle] requirements are the record of what is wanted: edited
        # since the lock was made, they are locked again, not silently ignored.
        relock = request.locked_for_other(existing)
    return VendorLockPlan(request, None if relock else existing)
