"""How the commands print for people: one console, paths, counts."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["plural", "report_console", "show_path"]


def report_console() -> Console:
    """The stderr console of human reports.

    ``soft_wrap``: rich never breaks a printed line itself, so a long path or
    command stays on one line, copy-pasteable (a terminal wraps it visually,
    a log or a pipe keeps it whole). Off a terminal rich would assume 80
    columns; tables get room instead and are only as wide as their contents.
    """
    # rich is imported only to draw: --json and -q runs start faster.
    from rich.console import Console

    tty = sys.stderr.isatty()
    return Console(stderr=True, soft_wrap=True, width=None if tty else 1000)


def show_path(path: Path | str) -> str:
    """``path`` normalised (no ``a/../``), relative to the current folder when inside it."""
    # normpath, not resolve(): lexical, so a symlinked folder keeps the name the user knows.
    normal = Path(os.path.normpath(Path(path).absolute()))
    cwd = Path.cwd()
    return str(normal.relative_to(cwd)) if normal.is_relative_to(cwd) else str(normal)


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 package``, ``2 packages`` (``many`` for irregular plurals)."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
