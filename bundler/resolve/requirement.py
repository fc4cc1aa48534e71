"""A requirement as the resolver sees it, and how identifiers name them.

Identifiers are the canonical name, ``name[extra,...]`` for an extras
variant (which depends on its exact base candidate, as in pip), and
:data:`PYTHON` for the target interpreter, which is how a Requires-Python
found only in a file's metadata makes the resolver backtrack.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import Requirement as PkgRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from bundler.resolve.candidates import Candidate

PYTHON = "<python>"


@dataclass(frozen=True)
class Requirement:
    """A requirement as the resolver sees it, with where it came from."""

    name: NormalizedName
    specifier: SpecifierSet
    extras: frozenset[str] = frozenset()
    origin: str = "command line"
    text: str = ""
    exact: Candidate | None = None

    @property
    def identifier(self) -> str:
        if self.extras:
            return f"{self.name}[{','.join(sorted(self.extras))}]"
        return self.name

    @classmethod
    def from_pkg(cls, req: PkgRequirement, origin: str) -> Requirement:
        return cls(
            name=canonicalize_name(req.name),
            specifier=req.specifier,
            extras=frozenset(canonicalize_name(e) for e in req.extras),
            origin=origin,
            text=str(req),
        )

    def __str__(self) -> str:
        return self.text or f"{self.identifier}{self.specifier}"


def split_identifier(identifier: str) -> tuple[NormalizedName, frozenset[str]]:
    name, _, rest = identifier.partition("[")
    extras = frozenset(rest.rstrip("]").split(",")) if rest else frozenset()
    return NormalizedName(name), extras


def is_pin(req: Requirement) -> bool:
    return req.exact is not None or any(s.operator in ("==", "===") for s in req.specifier)


def mentions_pre(req: Requirement) -> bool:
    """Does the requirement name a pre-release (which allows pre-releases)?"""
    return any(
        Version(s.version.rstrip(".*")).is_prerelease
        for s in req.specifier
        if s.operator != "===" and _valid(s.version.rstrip(".*"))
    )


def _valid(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True
