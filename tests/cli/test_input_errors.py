"""Misleading input is refused as what it is: one paragraph naming it, exit 2,
before any request is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.index_server import IndexServer
from tests.helpers.run import run_cli
from tests.helpers.wheels import build_wheel

TARGET = """\
format = 1
name = "small"
python_full_version = "3.12.3"
glibc = "2.35"
[installed]
numpy = "2.0.2"
"""


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "index" / "simple"
    build_wheel(simple, "helper", "2.0")
    with IndexServer({"simple": simple}) as server:
        yield server


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(TARGET)
    return path


def _refused(res: Any) -> str:
    assert res.exit_code == 2, (res.exit_code, res.stderr)
    err: str = res.stderr
    assert "Traceback" not in err and "internal error" not in err
    assert len(err.strip().splitlines()) == 1, err  # one paragraph
    return err


def test_vendor_names_a_missing_lock(kbundle: Any, target: Path, tmp_path: Path) -> None:
    err = _refused(
        kbundle("vendor", "--target", str(target), "--lock", "nope.toml", "-t", "lib", cwd=tmp_path)
    )
    assert "nope.toml: no such lock file" in err and "kbundle lock" in err
    assert "nothing to lock" not in err
    assert not (tmp_path / "lib").exists()


def test_check_names_a_missing_lock(kbundle: Any, tmp_path: Path) -> None:
    err = _refused(kbundle("check", "--lock", str(tmp_path / "nope.toml")))
    assert "nope.toml" in err


@pytest.mark.parametrize("text", ["[1,2,3]", '["numpy"]', "[]\n[1]"])
def test_a_json_manifest_is_not_called_toml(
    kbundle: Any, target: Path, tmp_path: Path, text: str
) -> None:
    manifest = tmp_path / "image.json"
    manifest.write_text(text)
    err = _refused(kbundle("target", "show", str(target), "--manifest", str(manifest)))
    assert str(manifest) in err and "JSON" in err and "TOML" not in err


def test_a_toml_capture_is_still_read_as_toml(kbundle: Any, target: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "image.toml"
    manifest.write_text('[ installed . numpy ]\nversion = "1.26.4"\n')
    res = kbundle("target", "show", str(target), "--manifest", str(manifest), "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["installed"] == {"numpy": "1.26.4"}


@pytest.mark.parametrize(
    "url", ["ht!tp://::", "https:///simple", "http://host:port/simple", "http://[::1/", "pypi.org"]
)
def test_a_bad_index_url_is_refused_at_once(target: Path, tmp_path: Path, url: str) -> None:
    res = run_cli("lock", "helper", "--target", str(target), "-i", url, "-o", str(tmp_path / "l"))
    err = _refused(res)
    assert "-i/--index-url" in err and url in err
    assert "tried" not in err and "Warning" not in err  # no retries, no leaked warnings


def test_a_bad_extra_index_and_find_links_url_are_refused(kbundle: Any, target: Path) -> None:
    err = _refused(kbundle("lock", "helper", "--target", str(target), "--extra-index-url", "x://"))
    assert "--extra-index-url" in err
    err = _refused(kbundle("lock", "helper", "--target", str(target), "-f", "ftp://host/x/"))
    assert "-f/--find-links" in err


@pytest.mark.parametrize("where", ["argument", "file", "build"])
def test_impossible_names_are_refused_before_any_request(
    kbundle: Any, index: IndexServer, target: Path, tmp_path: Path, where: str
) -> None:
    name = "a" * 10_000
    args = ["lock", "--target", str(target), "-i", index.index_url(), "-o", str(tmp_path / "l")]
    if where == "argument":
        args.append(name)
    elif where == "file":
        (tmp_path / "req.txt").write_text(f"helper\n{name}>=1\n")
        args += ["-r", str(tmp_path / "req.txt")]
    else:
        args += ["helper", "--build", "not a name"]
    err = _refused(kbundle(*args))
    if where == "build":
        assert "--build" in err and "'not a name' is not a valid project name" in err
    else:
        assert "10,000 characters" in err and len(err) < 1000
    if where == "file":
        assert "req.txt:2" in err
    assert index.log == []  # nothing was asked of the index


def test_an_invalid_requirement_is_refused(kbundle: Any, target: Path) -> None:
    err = _refused(kbundle("lock", "foo!bar", "--target", str(target)))
    assert "'foo!bar' is not a valid requirement" in err


def test_empty_platform_tags_is_an_error(kbundle: Any, tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(TARGET.replace('glibc = "2.35"\n', 'glibc = "2.35"\nplatform_tags = []\n'))
    err = _refused(kbundle("target", "show", str(path)))
    assert "platform_tags" in err and "empty" in err and str(path) in err


def test_a_broken_tool_table_reports_every_bad_key(kbundle: Any, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.kbundle]\ntarget = 3\nlib = ["x"]\ntypo = 1\nother-typo = 2\n'
        'requirements = "numpy"\nbuild = [1]\n'
    )
    err = _refused(kbundle("lock", "numpy", cwd=tmp_path))
    for key in ("target", "lib", "typo", "other-typo", "requirements", "build"):
        assert f"'tool.kbundle.{key}'" in err, (key, err)
    assert "5 problems" in err  # the two unknown keys are one problem


def test_check_refuses_a_folder_that_is_not_a_lib(kbundle: Any, tmp_path: Path) -> None:
    folder = tmp_path / "notlib"
    folder.mkdir()
    (folder / "x.txt").write_text("hi\n")
    err = _refused(kbundle("check", "--lib", str(folder)))
    assert f"{folder}: is not a lib" in err and "kbundle.json" in err
    err = _refused(kbundle("check", "--lib", str(tmp_path / "missing")))
    assert "no such folder" in err
    res = kbundle("check", "--lib", "")  # a click usage error, with its usage lines
    assert res.exit_code == 2 and "'--lib': is empty" in res.stderr


def test_check_still_takes_a_lib_pip_filled(kbundle: Any, target: Path, tmp_path: Path) -> None:
    lib = tmp_path / "piplib"
    info = lib / "helper-2.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: helper\nVersion: 2.0\n")
    res = kbundle("check", "--lib", str(lib), "--target", str(target))
    assert res.exit_code == 0, res.stderr


def test_check_refuses_a_bad_manifest_url(kbundle: Any, target: Path) -> None:
    err = _refused(kbundle("check", "--lib", ".", "--manifest", "https://", "--target", "x"))
    assert "--manifest" in err
