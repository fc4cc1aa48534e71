"""Tests for bundler.pip_lines: the line syntax requirement files and freezes share."""

from __future__ import annotations

import pytest

from bundler.pip_lines import (
    drop_bom,
    is_comment_line,
    join_continuations,
    logical_lines,
    split_lines,
    split_option,
    strip_comment,
)


def test_logical_lines() -> None:
    text = "a \\\n b # c\n\n# d \\\n  e\r\nf\\"
    assert logical_lines(text) == [(1, "a  b"), (5, "e"), (6, "f")]


def test_split_lines_breaks_at_crlf_cr_and_lf_only() -> None:
    assert split_lines("a\r\nb\rc\nd\fe\u2028f") == ["a", "b", "c", "d\fe\u2028f"]
    assert split_lines("") == [""]
    assert split_lines("a\n") == ["a", ""]


def test_drop_bom_only_at_the_start() -> None:
    assert drop_bom("\ufeffa\ufeff") == "a\ufeff"
    assert drop_bom("a") == "a"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("numpy==1.0  # pinned", "numpy==1.0"),
        ("# all comment", ""),
        ("x @ https://h/x.whl#sha256=ab", "x @ https://h/x.whl#sha256=ab"),
        ("x @ https://h/x.whl#sha256=ab # c", "x @ https://h/x.whl#sha256=ab"),
        ("a\t# tab", "a"),
    ],
)
def test_strip_comment_needs_a_blank_before_the_hash(line: str, expected: str) -> None:
    assert strip_comment(line) == expected


def test_is_comment_line() -> None:
    assert is_comment_line("  # x")
    assert is_comment_line("#")
    assert not is_comment_line("a # x")
    assert not is_comment_line("")


def test_join_continuations_keeps_every_line_accounted_for() -> None:
    lines = ["a \\", "b", "# c \\", "d \\  ", "# via x", "e"]
    assert join_continuations(lines) == [(1, "a b"), (3, ""), (4, "d "), (6, "e")]


def test_a_trailing_backslash_at_the_end_still_yields_its_line() -> None:
    assert join_continuations(["a \\"]) == [(1, "a ")]


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("--index-url=https://x", ("--index-url", "https://x")),
        ("--index-url=", ("--index-url", "")),
        ("--pre", ("--pre", None)),
        ("-rfile.txt", ("-r", "file.txt")),
        ("-r", ("-r", None)),
        ("-e", ("-e", None)),
        ("-e.", ("-e", ".")),
    ],
)
def test_split_option(token: str, expected: tuple[str, str | None]) -> None:
    assert split_option(token) == expected
