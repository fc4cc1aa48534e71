"""Tests for bundler.target.manifest.freeze: pip freeze output as a manifest."""

from __future__ import annotations

import pytest

from bundler.target.manifest import InstalledDist, parse_manifest
from tests.helpers.manifest import SRC, parse_error, versions


def test_freeze_basic_and_normalisation() -> None:
    text = "NumPy==2.0.2\nzope.interface==6.0\nfoo==1.0.0-RC1\nbar===weird-1\n"
    assert versions(text) == {
        "bar": "weird-1",  # === is kept verbatim
        "foo": "1.0.0rc1",
        "numpy": "2.0.2",
        "zope-interface": "6.0",
    }


def test_freeze_result_is_sorted_plain_dict() -> None:
    manifest = parse_manifest("b==1\na==1\nc==1\n", SRC)
    assert type(manifest) is dict
    assert list(manifest) == ["a", "b", "c"]


def test_wheel_url_percent_decoded() -> None:
    text = "torch @ https://x/torch-2.5.1%2Bcu121-cp310-cp310-linux_x86_64.whl\n"
    dist = parse_manifest(text, SRC)["torch"]
    assert dist.version == "2.5.1+cu121"
    assert dist.url == "https://x/torch-2.5.1%2Bcu121-cp310-cp310-linux_x86_64.whl"


@pytest.mark.parametrize(
    ("line", "version"),
    [
        ("pkg @ https://h/p/pkg-1.2-py3-none-any.whl#sha256=abc", "1.2"),
        ("pkg @ https://h/p/pkg-1.2-py3-none-any.whl?download=1", "1.2"),
        ("pkg @ file:///dist/pkg-0.3.tar.gz", "0.3"),
        ("pkg @ https://h/pkg-0.4.zip", "0.4"),
        ("pkg @ git+https://github.com/o/pkg@0123abcd", None),
        ("pkg @ git+https://github.com/o/pkg.git@v1.0#egg=pkg", None),
        ("pkg @ file:///home/me/src/pkg", None),
        ("pkg @ https://h/other-1.0-py3-none-any.whl", None),  # file of another project
        ("pkg @ https://h/pkg-not-a-wheel.whl", None),
    ],
)
def test_url_versions(line: str, version: str | None) -> None:
    assert versions(line) == {"pkg": version}


def test_editable_lines() -> None:
    text = "\n".join(
        [
            "-e git+https://github.com/o/r.git@0123abcd#egg=my_pkg",
            "--editable=git+https://github.com/o/s@v1#egg=sub-pkg&subdirectory=py",
            "--editable git+https://github.com/o/t@v1#egg=third",
            "-e /home/me/no-name-here",  # no name anywhere: skipped, no error
            "",
        ]
    )
    manifest = parse_manifest(text, SRC)
    assert set(manifest) == {"my-pkg", "sub-pkg", "third"}
    assert manifest["my-pkg"] == InstalledDist(
        "my-pkg", None, url="git+https://github.com/o/r.git@0123abcd#egg=my_pkg"
    )


def test_editable_name_and_version_from_pip_comment() -> None:
    text = (
        "# Editable install with no version control (My_Tool==0.3.1)\n"
        "-e /src/my-tool\n"
        "# Editable Git install (other==2.0) with either a deleted local remote or invalid URI:\n"
        "# 'file:///gone'\n"
        "-e /src/other\n"
        "## !! Could not determine repository location\n"
        "-e /src/unknown\n"
    )
    manifest = parse_manifest(text, SRC)
    assert manifest == {
        "my-tool": InstalledDist("my-tool", "0.3.1", url="/src/my-tool"),
        "other": InstalledDist("other", "2.0", url="/src/other"),
    }


def test_pip_comment_does_not_leak_past_a_blank_line() -> None:
    text = "# Editable install with no version control (a==1)\n\n-e /src/a\n"
    assert parse_manifest(text, SRC) == {}


def test_comments_blank_lines_and_options() -> None:
    text = (
        "# full-line comment\n"
        "   # indented comment\n"
        "\n"
        "numpy==2.0.2  # trailing comment\n"
        "## !! Could not determine repository location\n"
        "-i https://pypi.org/simple\n"
        "--extra-index-url https://download.pytorch.org/whl/cu121\n"
        "## The following requirements were added by pip freeze:\n"
        "pkg @ https://h/pkg-1.0-py3-none-any.whl#sha256=ff\n"
    )
    manifest = parse_manifest(text, SRC)
    assert versions(text) == {"numpy": "2.0.2", "pkg": "1.0"}
    assert manifest["pkg"].url == "https://h/pkg-1.0-py3-none-any.whl#sha256=ff"


def test_same_line_twice_is_fine() -> None:
    assert versions("numpy==2.0.2\nnumpy==2.0.2\n") == {"numpy": "2.0.2"}


def test_duplicate_with_different_versions_names_both_lines() -> None:
    error = parse_error("# header\nJinja2==3.1.4\nsix==1.16.0\njinja2==3.1.6\n")
    message = str(error)
    assert message.startswith(f"{SRC}:4: ")
    assert "jinja2" in message
    assert "line 2 'Jinja2==3.1.4'" in message
    assert "line 4 'jinja2==3.1.6'" in message
    assert error.line == 4


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        ("numpy=1.0", "expected"),
        ("???", "package name"),
        ("numpy==1.0.*", "not a valid version"),
        ("numpy", "exactly one `==`"),
        ("numpy>=1.0", "exactly one `==`"),
        ("numpy==1.0,==1.0", "exactly one `==`"),
        ('numpy==1.0 ; python_version < "3"', "environment marker"),
        ("-e", "needs a location"),
        ("--no-deps", "not an option"),
        ("-e git+https://h/r#egg=bad!name", "not a valid project name"),
    ],
)
def test_bad_freeze_line_names_file_line_and_quotes_it(line: str, detail: str) -> None:
    error = parse_error(f"# header\nsix==1.16.0\n{line}\nzzz==1\n", "path/to/image.txt")
    message = str(error)
    assert message.startswith("path/to/image.txt:3: ")
    assert repr(line) in message
    assert detail in message
    assert "name==version" in message  # says what is expected
    assert error.source == "path/to/image.txt"
    assert error.line == 3
