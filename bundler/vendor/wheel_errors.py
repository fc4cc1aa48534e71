"""What can be wrong with wheels to install: broken or unsafe files, clashing paths.

Every problem of every wheel is collected and raised once, each naming the
wheel (and the archive member or lib path) it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bundler.errors import KbundleError

__all__ = ["BadWheelError", "Collision", "FileCollisionError", "WheelProblem"]


@dataclass(frozen=True)
class WheelProblem:
    """One reason a wheel cannot be installed; ``entry`` is the archive member, if any."""

    wheel: str
    reason: str
    entry: str | None = None

    def __str__(self) -> str:
        where = f"{self.wheel}: {self.entry!r}" if self.entry is not None else self.wheel
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Collision:
    """``path`` (relative to lib) would be written by both ``first`` and ``second``.

    ``first`` is ``None`` when the file was already in ``lib`` before this install.
    """

    path: str
    first: str | None
    second: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        if self.first is None:
            return f"{self.path}: written by {self.second} but already present in lib{detail}"
        return f"{self.path}: written by both {self.first} and {self.second}{detail}"


class BadWheelError(KbundleError):
    """One or more wheels are broken or unsafe; ``problems`` lists every finding."""

    def __init__(self, problems: Sequence[WheelProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) found in wheels:\n{lines}",
            hint="A wheel that fails its own RECORD was damaged or tampered with: delete it "
            "from the cache to fetch it again. An unsafe path is a broken or malicious wheel.",
        )


class FileCollisionError(KbundleError):
    """Two wheels (or a wheel and an existing file) would write the same path."""

    def __init__(self, collisions: Sequence[Collision]) -> None:
        self.collisions = tuple(collisions)
        lines = "\n".join(f"  {collision}" for collision in self.collisions)
        super().__init__(
            f"{len(self.collisions)} file(s) would be installed twice into lib:\n{lines}",
            hint="Two distributions ship the same module (often a renamed fork or an old "
            "package split); keep only one of them in the lock.",
        )
