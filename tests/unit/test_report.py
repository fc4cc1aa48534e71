"""How reports show sizes, package tables and notes (one shape for every command)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bundler.cli.report import (
    PlainConsole,
    human_size,
    print_notes,
    print_packages,
    report_console,
)


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None, soft_wrap=True), out


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (None, "?"),
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1_234_567, "1.2 MB"),
        (20_000_000_000, "20.0 GB"),
        (5_000_000_000_000, "5000.0 GB"),
    ],
)
def test_human_size(size: int | None, shown: str) -> None:
    assert human_size(size) == shown


def test_the_package_table_names_its_size_column_and_right_aligns_it() -> None:
    c, out = console()

    print_packages(
        c, "installed", [("zz-a", "1.0", "vendor", "1.0 kB"), ("zz-bb", "22", "build", "10 B")]
    )

    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["package", "version", "source", "installed"]
    assert lines[1].split() == ["zz-a", "1.0", "vendor", "1.0", "kB"]
    assert lines[1].endswith("1.0 kB") and lines[2].endswith("  10 B")
    assert len({len(line.rstrip()) for line in lines}) == 1  # one right edge


def test_an_empty_table_still_has_its_header() -> None:
    c, out = console()

    print_packages(c, "wheel", [])

    assert out.getvalue().split() == ["package", "version", "source", "wheel"]


def test_notes_and_warnings_are_printed_as_written() -> None:
    c, out = console()

    print_notes(c, ["uses [tool.kbundle] lock"], ["foo[cuda] is [bold]far[/bold] behind"])

    assert out.getvalue().splitlines() == [
        "note: uses [tool.kbundle] lock",
        "warning: foo[cuda] is [bold]far[/bold] behind",
    ]


def test_off_a_terminal_the_report_is_rich_layout_without_rich(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [("zz-a", "1.0", "vendor (shadows image 0.9)", "1.0 kB"), ("zz-bb", "22", "image", "-")]
    c, out = console()
    print_packages(c, "download", rows)
    print_notes(c, ["a [note]"], ["a warning"])

    plain = report_console()  # stderr is captured: not a terminal
    assert isinstance(plain, PlainConsole)
    print_packages(plain, "download", rows)
    print_notes(plain, ["a [note]"], ["a warning"])

    assert capsys.readouterr().err == out.getvalue()
