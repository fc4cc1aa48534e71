"""Core metadata (METADATA / PKG-INFO) reduced to what resolution needs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistMetadata:
    """Requirements and Python bound of one distribution file."""

    requires_dist: tuple[Requirement, ...]
    requires_python: str | None


def parse_core_metadata(data: bytes, origin: str) -> DistMetadata:
    """Parse RFC 822 core metadata leniently.

    Real indexes carry old and odd metadata; a malformed ``Requires-Dist`` is
    logged and skipped rather than failing the whole lock (pip does the same).
    """
    raw, _unparsed = parse_email(data)
    requires: list[Requirement] = []
    for text in raw.get("requires_dist", []):
        try:
            requires.append(Requirement(text))
        except InvalidRequirement as exc:
            log.warning("%s: ignoring invalid Requires-Dist %r: %s", origin, text, exc)
    return DistMetadata(tuple(requires), raw.get("requires_python") or None)


def parse_requirement_strings(texts: tuple[str, ...], origin: str) -> DistMetadata:
    """The same shape from a list of requirement strings (captured image data)."""
    requires: list[Requirement] = []
    for text in texts:
        try:
            requires.append(Requirement(text))
        except InvalidRequirement as exc:
            log.warning("%s: ignoring invalid requirement %r: %s", origin, text, exc)
    return DistMetadata(tuple(requires), None)
