"""What ``kbundle check`` reports: findings with a severity, a kind and a remedy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """One problem (or note) found by a check.

    ``kind`` names the check (``drift``, ``requirement``, ``preloaded``,
    ``tag``, ``needed``, ``glibc``, ``glibcxx``, ``cuda``, ``gpu-arch``, …);
    ``package`` and ``file`` locate it; ``remedy`` says what to do.
    """

    severity: Severity
    kind: str
    package: str | None
    file: str | None
    detail: str
    remedy: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then by kind, package and file: stable output."""
    return sorted(
        set(findings),
        key=lambda f: (_ORDER[f.severity], f.kind, f.package or "", f.file or "", f.detail),
    )


def exit_code(findings: Iterable[Finding], *, strict: bool) -> int:
    """1 when an error was found (or a warning, with ``strict``), else 0."""
    severities = {f.severity for f in findings}
    if "error" in severities or (strict and "warning" in severities):
        return 1
    return 0
