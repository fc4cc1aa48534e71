"""bundler.inputs and the errors' OS mapping on their own."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from bundler.errors import DiskFull, InputError, KbundleError, environment_error
from bundler.inputs import MAX_NAME_LENGTH, check_project_name, check_url


@pytest.mark.parametrize(
    "url",
    [
        "https://pypi.org/simple/",
        "http://127.0.0.1:8080/simple",
        "file:///srv/simple/",
        "https://host/whl/{cuda}",
    ],
)
def test_good_urls(url: str) -> None:
    assert check_url(url, "-i") == url


@pytest.mark.parametrize(
    "url",
    ["ht!tp://::", "https:///x", "http://h:port/", "http://[::1/", "pypi.org/simple", "ftp://h/"],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(InputError, match="-i"):
        check_url(url, "-i")


def test_names() -> None:
    assert check_project_name("Foo_Bar", "x") == "foo-bar"
    assert check_project_name("a" * MAX_NAME_LENGTH, "x") == "a" * MAX_NAME_LENGTH
    with pytest.raises(InputError, match="characters long"):
        check_project_name("a" * (MAX_NAME_LENGTH + 1), "x")
    with pytest.raises(InputError, match="not a valid project name"):
        check_project_name("-bad", "x")


def test_environment_errors(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    full = environment_error(OSError(errno.ENOSPC, "No space", str(cache / "x")), cache)
    assert isinstance(full, DiskFull) and f"kbundle's cache at {cache} is full" in str(full)
    other = environment_error(OSError(errno.ENOSPC, "No space", str(tmp_path / "o" / "f")), cache)
    assert isinstance(other, DiskFull) and f"file system of {tmp_path / 'o'}" in str(other)
    denied = environment_error(OSError(errno.EACCES, "Permission denied", "/etc/x"), cache)
    assert isinstance(denied, KbundleError) and denied.exit_code == 1 and "/etc/x" in str(denied)
    assert environment_error(OSError(errno.ENOENT, "No such file", "/x"), cache) is None  # a bug
    file_cache = tmp_path / "file"
    file_cache.write_text("")
    bad = environment_error(OSError(errno.ENOTDIR, "Not a dir", str(file_cache / "h")), file_cache)
    assert isinstance(bad, InputError) and "KBUNDLE_CACHE_DIR" in str(bad)


def test_write_output_names_the_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bundler.cli import output_file

    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match=r"-o/--output: cannot write the lock to .*file/x: "):
        output_file.write_output(
            tmp_path / "file" / "x", b"", what="the lock", option="-o/--output"
        )

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output_file, "atomic_write", full)
    with pytest.raises(DiskFull, match=r"about 0.0 MB was needed.*elsewhere with -o/--output"):
        output_file.write_output(tmp_path / "x", b"abc", what="the lock", option="-o/--output")
