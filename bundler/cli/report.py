"""How the commands print for people: one console, paths, counts, sizes, tables.

Human reports go to stderr (stdout is kept for ``--json`` and printed files).
On a terminal they are drawn with rich; off one (a log, CI, a pipe, a
benchmark) rich would print plain text anyway, so :class:`PlainConsole`
writes the same text without importing rich, about a tenth of a warm
vendor's time. What a report says is the commands' business; how a path, a
size or a package table looks is decided here, once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from rich.console import Console as RichConsole

    from bundler.lock.run import LockOutcome


class PlainConsole:
    """Report lines as plain text on stderr: what rich prints off a terminal.

    Text is written as it is (no markup is interpreted, so ``foo[cuda]`` stays
    whole) and never wrapped, so a long path or command stays copy-pasteable.
    """

    def print(
        self,
        *objects: object,
        style: str | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        soft_wrap: bool | None = None,
    ) -> None:
        sys.stderr.write(" ".join(str(o) for o in objects) + "\n")


#: Where reports print: rich's console on a terminal, :class:`PlainConsole` elsewhere.
Console: TypeAlias = "RichConsole | PlainConsole"


def report_console() -> Console:
    """The stderr console of human reports: rich on a terminal, plain otherwise.

    ``soft_wrap``: rich never breaks a printed line itself, so a long path or
    command stays on one line, copy-pasteable (the terminal wraps it visually).
    """
    if not sys.stderr.isatty():
        return PlainConsole()
    from rich.console import Console as RichConsole

    return RichConsole(stderr=True, soft_wrap=True)


def show_path(path: Path | str) -> str:
    """``path`` normalised (no ``a/../``), relative to the current folder when inside it."""
    # normpath, not resolve(): lexical, so a symlinked folder keeps the name the user knows.
    normal = Path(os.path.normpath(Path(path).absolute()))
    cwd = Path.cwd()
    return str(normal.relative_to(cwd)) if normal.is_relative_to(cwd) else str(normal)


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 package``, ``2 packages`` (``many`` for irregular plurals)."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def human_size(size: int | None) -> str:
    """``532 B``, ``1.2 MB``: decimal units as downloads are shown; ``?`` when unknown."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def print_packages(
    console: Console, size_column: str, rows: Iterable[tuple[str, str, str, str]]
) -> None:
    """The table each report starts with: package, version, source, and a size.

    ``size_column`` names the size (``download``, ``installed``, ``wheel``);
    rows are ``(name, version, source, size)``, the size already formatted.
    """
    rows = list(rows)
    if isinstance(console, PlainConsole):
        for line in plain_table(("package", "version", "source", size_column), rows, right={3}):
            console.print(line)
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("package", "version", "source"):
        table.add_column(column)
    table.add_column(size_column, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def plain_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Collection[int] = ()
) -> list[str]:
    """Rows as lines, columns two spaces apart and never wrapped: rich's layout
    off a terminal (the columns numbered in ``right`` right-aligned)."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = []
    for row in (header, *rows):
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def print_notes(console: Console, notes: Iterable[str] = (), warnings: Iterable[str] = ()) -> None:
    """``note:`` and (yellow) ``warning:`` lines, printed as they are.

    Not rich markup: a requirement such as ``foo[cuda]`` or a path with
    brackets is shown as written. Unwrapped, so the versions and commands in
    them stay copy-pasteable.
    """
    for note in notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    for warning in warnings:
        console.print(
            f"warning: {warning}", style="yellow", highlight=False, markup=False, soft_wrap=True
        )


def report_lock(outcome: LockOutcome, path: Path, replacing: str | None = None) -> None:
    """The report of a lock written to ``path``, on stderr (``replacing``: a warning first)."""
    lock = outcome.lock
    console = report_console()
    if replacing:
        print_notes(console, warnings=[replacing])
    rows = []
    for p in lock.packages:
        artifact = p.wheel or p.sdist
        note = f" (shadows image {p.shadows})" if p.shadows else ""
        size = human_size(artifact.size) if artifact else "-"
        rows.append((p.name, p.version, p.source + note, size))
    print_packages(console, "download", rows)
    print_notes(
        console, outcome.resolution.notes, (*outcome.resolution.warnings, *outcome.warnings)
    )
    for cost in outcome.shadow_costs:
        console.print(f"shadow: {cost.sentence()}", highlight=False, markup=False, soft_wrap=True)
    console.print(
        f"{plural(len(lock.packages), 'package')} for {lock.target_name}: "
        f"{len(lock.image)} from the image, {len(lock.vendored)} to vendor "
        f"({human_size(lock.vendor_bytes)} to download); "
        f"resolved in {outcome.seconds:.2f}s -> {show_path(path)}",
        highlight=False,
    )
