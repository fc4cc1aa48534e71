"""Findings: their stable order, duplicates, and the exit code they make."""

from __future__ import annotations

import pytest

from bundler.check.findings import Finding, exit_code, sort_findings


def _f(severity: str, kind: str = "needed", package: str | None = None) -> Finding:
    return Finding(severity, kind, package, "lib/x.so", "detail", "remedy")  # type: ignore[arg-type]


def test_errors_come_first_then_kind_package_and_file() -> None:
    info, warning = _f("info", "unknown"), _f("warning", "glibcxx")
    error_b, error_a = _f("error", "tag", "b"), _f("error", "tag", "a")
    error_cuda = _f("error", "cuda")
    assert sort_findings([info, warning, error_b, error_a, error_cuda]) == [
        error_cuda,
        error_a,
        error_b,
        warning,
        info,
    ]


def test_the_same_finding_twice_is_reported_once() -> None:
    assert sort_findings([_f("error"), _f("error")]) == [_f("error")]


@pytest.mark.parametrize(
    ("severities", "strict", "code"),
    [
        ((), False, 0),
        (("info",), True, 0),
        (("warning", "info"), False, 0),
        (("warning",), True, 1),
        (("error",), False, 1),
    ],
)
def test_exit_code(severities: tuple[str, ...], strict: bool, code: int) -> None:
    assert exit_code([_f(s) for s in severities], strict=strict) == code


def test_to_json_has_every_field() -> None:
    assert _f("error", "tag", "a").to_json() == {
        "severity": "error",
        "kind": "tag",
        "package": "a",
        "file": "lib/x.so",
        "detail": "detail",
        "remedy": "remedy",
    }
