"""What every manifest format reads into: :class:`InstalledDist` and the :data:`Manifest` dict.

Only the value types and the version rules the formats share live here; each
format's syntax is in its own module beside this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from packaging.version import InvalidVersion, Version

__all__ = ["InstalledDist", "Manifest", "normalize_version"]


@dataclass(frozen=True)
class InstalledDist:
    """One distribution installed in a target image.

    ``version`` is a normalised PEP 440 string, a verbatim legacy string (only from
    ``===`` pins, JSON or TOML input) or ``None`` when unknown. ``requires`` holds
    the Requires-Dist strings when known (``()`` means "known to have none") and
    ``None`` when the source did not say. ``url`` is the direct URL of a
    ``name @ url`` line, or the location of an editable install.
    """

    name: str
    version: str | None
    requires: tuple[str, ...] | None = None
    url: str | None = None


Manifest: TypeAlias = dict[str, InstalledDist]
"""Canonical name -> installed distribution, a plain dict sorted by name."""


def normalize_version(text: str) -> str:
    """``str(Version(text))`` when valid PEP 440, else ``text`` stripped (a legacy version).

    For the formats that record what an installer reported (JSON, TOML): a
    version pip installed is real even when it is not PEP 440.
    """
    try:
        return str(Version(text))
    except InvalidVersion:
        return text.strip()
