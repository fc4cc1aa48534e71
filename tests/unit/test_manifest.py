"""Tests for bundler.target.manifest: image manifest parsing in every supported format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tomli_w

from bundler.errors import InputError
from bundler.target.manifest import (
    InstalledDist,
    installed_from_table,
    installed_to_table,
    load_manifest,
    parse_manifest,
)
from tests.helpers.run import SHARED_TARGETS

TARGETS = SHARED_TARGETS
TARGET_FILES = sorted(TARGETS.glob("*.txt")) if TARGETS.is_dir() else []
needs_targets = pytest.mark.skipif(not TARGET_FILES, reason=f"{TARGETS} not present")

SRC = "image.txt"


def versions(text: str, source: str = SRC) -> dict[str, str | None]:
    return {name: dist.version for name, dist in parse_manifest(text, source).items()}


def parse_error(text: str, source: str = SRC) -> InputError:
    with pytest.raises(InputError) as info:
        parse_manifest(text, source)
    assert info.value.exit_code == 2
    return info.value


# ------------------------------------------------------------------ real manifests


@needs_targets
@pytest.mark.parametrize("path", TARGET_FILES, ids=lambda p: p.name)
def test_every_target_file_parses(path: Path) -> None:
    manifest = load_manifest(path)
    assert manifest
    assert list(manifest) == sorted(manifest)
    assert all(name == dist.name for name, dist in manifest.items())


@needs_targets
def test_colab_freeze_known_versions() -> None:
    path = TARGETS / "colab-gpu-base-2026-05-14.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    manifest = load_manifest(path)
    assert manifest["torch"].version == "2.10.0+cu128"
    assert manifest["jinja2"].version == "3.1.6"
    assert manifest["google-colab"] == InstalledDist(
        "google-colab", "1.0.0", url="file:///colabtools/dist/google_colab-1.0.0.tar.gz"
    )
    gateway = manifest["jupyter-kernel-gateway"]
    assert gateway.version is None
    assert gateway.url is not None
    assert gateway.url.startswith("git+https://github.com/googlecolab/kernel_gateway@")
    assert manifest["en-core-web-sm"].version == "3.8.0"  # wheel URL with #sha256=
    assert manifest["cucim-cu12"].version == "26.2.0"
    assert manifest["array-record"].version == "0.8.3"  # array_record, canonicalised


@needs_targets
def test_kaggle_cpu_freeze_known_versions() -> None:
    path = TARGETS / "kaggle-cpu-image-2026-06-17.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    manifest = load_manifest(path)
    assert manifest["torch"].version == "2.10.0+cpu"
    assert manifest["jinja2"].version == "3.1.6"  # written as Jinja2
    assert manifest["pyyaml"].version == "6.0.3"


@needs_targets
def test_2024_pins_file() -> None:
    path = TARGETS / "kaggle-gpu-pins-2024-05-16.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    manifest = load_manifest(path)
    assert "torch" in manifest
    assert {"torchvision", "torchaudio", "jax", "lightgbm", "tensorflow-io"} <= set(manifest)
    assert not any(name.startswith(("cuda", "base", "cpu", "gpu")) for name in manifest)
    assert "pytorch-build" not in manifest  # $PACKAGE_VERSION is not a version


# --------------------------------------------------------------------------- freeze


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


def test_bom_and_crlf() -> None:
    text = "\ufeffnumpy==2.0.2\r\n# comment\r\npandas==2.2.2\r\n"
    assert versions(text) == {"numpy": "2.0.2", "pandas": "2.2.2"}


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


def test_empty_text_is_an_empty_manifest() -> None:
    assert parse_manifest("", SRC) == {}
    assert parse_manifest("# nothing installed\n\n", SRC) == {}


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


# ----------------------------------------------------------------------------- JSON


def test_pip_list_json() -> None:
    data = [
        {"name": "NumPy", "version": "2.0.2"},
        {"name": "my_tool", "version": "0.1", "editable_project_location": "/src/my_tool"},
        {"name": "legacy", "version": "1.0-custom-x"},
    ]
    manifest = parse_manifest(json.dumps(data), SRC)
    assert manifest == {
        "legacy": InstalledDist("legacy", "1.0-custom-x"),
        "my-tool": InstalledDist("my-tool", "0.1", url="/src/my_tool"),
        "numpy": InstalledDist("numpy", "2.0.2"),
    }
    assert parse_manifest("\ufeff[]\r\n", SRC) == {}
    pretty = json.dumps([{"name": "a", "version": "1"}], indent=2)
    assert versions(pretty) == {"a": "1"}


def test_invalid_json_names_line() -> None:
    message = str(parse_error('[\n  {"name": "a", "version": "1"},\n  {"name": \n]\n', "l.json"))
    assert re.match(r"l\.json:4: invalid JSON", message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "a"}', "expected a JSON list"),
        ('[{"name": "a"}]', "entry 1"),
        ('[{"name": "a", "version": "1"}, "b"]', "entry 2"),
        ('[{"name": "a", "version": ""}]', "entry 1"),
        ('[{"name": "a", "version": "1"}, {"name": "A", "version": "2"}]', "entries 1 and 2"),
    ],
)
def test_bad_json_entries(text: str, expected: str) -> None:
    message = str(parse_error(text, "l.json"))
    assert message.startswith("l.json: ")
    assert expected in message


# ----------------------------------------------------------------------------- TOML

CAPTURE = """\
# kbundle capture
format = 1

[target]
python = "3.12"

[installed.numpy]
version = "2.0.2"
requires = []

[installed.pandas]
version = "2.2.2"
requires = ["numpy>=1.26", "python-dateutil>=2.8.2", 'tzdata>=2022.7; python_version >= "3.9"']

[installed.jupyter-kernel-gateway]
url = "git+https://github.com/googlecolab/kernel_gateway@b134e99"

[installed.unknown]
version = ""
"""


def test_toml_capture() -> None:
    manifest = parse_manifest(CAPTURE, "capture.toml")
    assert list(manifest) == ["jupyter-kernel-gateway", "numpy", "pandas", "unknown"]
    assert manifest["numpy"] == InstalledDist("numpy", "2.0.2", requires=())
    assert manifest["pandas"].requires == (
        "numpy>=1.26",
        "python-dateutil>=2.8.2",
        'tzdata>=2022.7; python_version >= "3.9"',
    )
    assert manifest["jupyter-kernel-gateway"].version is None
    assert manifest["unknown"] == InstalledDist("unknown", None)


def test_toml_short_form_and_header_first() -> None:
    text = '[installed]\nNumPy = "2.0.2"\nmystery = ""\n'
    assert versions(text, "t.toml") == {"mystery": None, "numpy": "2.0.2"}


def test_toml_round_trip_through_tomli_w() -> None:
    manifest = parse_manifest(CAPTURE, "capture.toml")
    manifest["torch"] = InstalledDist(
        "torch", "2.5.1+cu121", url="https://x/torch-2.5.1%2Bcu121-cp310-cp310-linux_x86_64.whl"
    )
    table = installed_to_table(manifest)
    assert list(table) == sorted(table)
    assert table["numpy"] == {"version": "2.0.2", "requires": []}
    assert table["unknown"] == {}
    document = tomli_w.dumps({"installed": table})
    assert parse_manifest(document, "again.toml") == dict(sorted(manifest.items()))
    assert installed_from_table(table, "t") == dict(sorted(manifest.items()))
    assert tomli_w.dumps({"installed": installed_to_table(manifest)}) == document  # stable


def test_freeze_round_trips_through_table() -> None:
    text = "b===odd\na==1.0\nc @ git+https://h/c@abc\n"
    manifest = parse_manifest(text, SRC)
    assert installed_from_table(installed_to_table(manifest), "t") == manifest


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"numpy": 2}, "installed.numpy must be a version string or a table, not an integer"),
        ({"numpy": {"version": 2.0}}, "installed.numpy.version must be a string, not a float"),
        ({"numpy": {"requires": "six"}}, "installed.numpy.requires must be a list"),
        ({"numpy": {"requires": ["six", 3]}}, "installed.numpy.requires[1] must be a string"),
        (
            {"numpy": {"requires": ["six>>1"]}},
            "installed.numpy.requires[0] 'six>>1' is not a valid requirement",
        ),
        ({"numpy": {"url": ["x"]}}, "installed.numpy.url must be a string, not a list"),
        ({"numpy": {"verison": "1"}}, "installed.numpy.verison is not a known key"),
        ({"bad name!": "1"}, 'installed."bad name!"'),
        ({"Jinja2": "3", "jinja2": "3"}, "installed.jinja2 and installed.Jinja2"),
    ],
)
def test_installed_table_errors_name_the_key(table: dict[str, object], expected: str) -> None:
    with pytest.raises(InputError) as info:
        installed_from_table(table, "capture.toml")
    message = str(info.value)
    assert message.startswith("capture.toml: ")
    assert expected in message


def test_invalid_toml_names_line() -> None:
    message = str(parse_error("[installed]\nnumpy = \n", "c.toml"))
    assert message.startswith("c.toml:2: invalid TOML")


def test_toml_without_installed_table() -> None:
    message = str(parse_error('[target]\npython = "3.12"\n', "c.toml"))
    assert message.startswith("c.toml: has no [installed] table")


# ----------------------------------------------------------------------------- pins


def test_pins_document() -> None:
    text = (
        "## config.txt\n"
        "BASE_IMAGE_TAG=m114\n"
        "GPU_BASE_IMAGE_NAME=tf2-gpu.2-15.py310\n"
        "TORCH_VERSION=2.1.2\n"
        "TORCHVISION_VERSION=0.16.2\n"
        "CUDA_MAJOR_VERSION=12\n"
        "PYTHON_VERSION=3.10\n"
        "Some prose about the image.\n"
        "ENV PYTORCH_BUILD_VERSION=$PACKAGE_VERSION\n"
        "43:ENV TENSORFLOW_IO_VERSION=0.35.0\n"
        'ARG JAX_VERSION="0.4.26"\n'
        "## later revision\n"
        "TORCH_VERSION=2.4.0\n"
    )
    assert versions(text) == {
        "jax": "0.4.26",
        "tensorflow-io": "0.35.0",
        "torch": "2.4.0",  # the later value overrides
        "torchvision": "0.16.2",
    }


def test_pin_lines_in_a_freeze_file_are_errors() -> None:
    error = parse_error("numpy==2.0.2\nTORCH_VERSION=2.1.2\n")
    assert str(error).startswith(f"{SRC}:2: cannot read 'TORCH_VERSION=2.1.2'")


# ---------------------------------------------------------------------- load_manifest


def test_load_manifest_reads_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_bytes(b"\xef\xbb\xbfnumpy==2.0.2\r\nsix==1.16.0\r\n")
    assert {n: d.version for n, d in load_manifest(path).items()} == {
        "numpy": "2.0.2",
        "six": "1.16.0",
    }


def test_load_manifest_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(InputError, match=re.escape(f"{missing}: no such file")):
        load_manifest(missing)
    with pytest.raises(InputError, match=re.escape(f"{tmp_path}: is a directory")):
        load_manifest(tmp_path)


def test_load_manifest_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"numpy==2.0.2\n# caf\xe9\n")
    with pytest.raises(InputError) as info:
        load_manifest(path)
    assert str(info.value).startswith(f"{path}:2: is not UTF-8 text")
    assert info.value.exit_code == 2

    utf16 = tmp_path / "powershell.txt"
    utf16.write_bytes("numpy==2.0.2\r\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        load_manifest(utf16)


def test_load_manifest_error_inside_file_names_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("numpy==2.0.2\nnumpy=1.0\n", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(f"{path}:2: cannot read 'numpy=1.0'")):
        load_manifest(path)
