"""Tests for bundler.request.requirement_options: a logical line's requirement and options."""

from __future__ import annotations

import pytest

from bundler.errors import InputError
from bundler.request.requirement_options import (
    Line,
    Option,
    Where,
    hash_value,
    split_line,
    url_value,
)


def split(text: str) -> Line:
    return split_line(text, Where("r.txt", 7, text))


def test_a_requirement_alone() -> None:
    line = split('tomli>=1; python_version < "3.11"')
    assert line == Line('tomli>=1; python_version < "3.11"', ())  # quotes untouched


def test_a_requirement_with_hashes() -> None:
    line = split("six==1.16.0 --hash=sha256:aa --hash sha256:bb")
    assert line.requirement == "six==1.16.0"
    assert line.options == (
        Option("hash", "--hash", "sha256:aa"),
        Option("hash", "--hash", "sha256:bb"),
    )


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("-r other.txt", Option("requirement", "-r", "other.txt")),
        ("-rother.txt", Option("requirement", "-r", "other.txt")),
        ("--constraint=c.txt", Option("constraint", "--constraint", "c.txt")),
        ("-i 'https://x/simple'", Option("index-url", "-i", "https://x/simple")),
        ("--no-index", Option("no-index", "--no-index", None)),
    ],
)
def test_option_lines(text: str, option: Option) -> None:
    assert split(text) == Line(None, (option,))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("--pre=yes", "takes no value"),
        ("-r", "needs a value"),
        ("--index-url=", "needs a value"),
        ("-r --pre", "needs a value"),
        ("--frobnicate", "unknown option '--frobnicate'"),
        ("-e .", "not supported: editable installs"),
        ("--trusted-host h", "not supported"),
        ("--pre stray", "unexpected 'stray'"),
        ("-i 'https://x", "cannot split the options"),
    ],
)
def test_bad_options_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        split(text)
    assert str(info.value).startswith("r.txt:7: ")
    assert message in str(info.value)


def test_hash_and_url_values() -> None:
    where = Where("r.txt", 1, "x")
    assert hash_value(Option("hash", "--hash", "SHA256:" + "A" * 64), where) == "sha256:" + "a" * 64
    with pytest.raises(InputError, match="not a valid hash"):
        hash_value(Option("hash", "--hash", "md5:" + "a" * 32), where)
    assert url_value(Option("index-url", "-i", "https://x/simple"), where) == "https://x/simple"
    with pytest.raises(InputError, match="expects a URL"):
        url_value(Option("index-url", "-i", "./wheels"), where)
