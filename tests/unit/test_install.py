"""Installing real wheels (built in tmp_path) into a lib folder with installer."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from bundler.errors import KbundleError
from bundler.vendor.install import (
    BadWheelError,
    FileCollisionError,
    InstalledWheel,
    install_wheels,
)
from tests.helpers.wheels import build_wheel, wheel_filename


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


def _rewrite(wheel: Path, changes: dict[str, bytes]) -> None:
    """Replace members of ``wheel`` without touching its RECORD."""
    with zipfile.ZipFile(wheel) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members.update(changes)
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.fixture
def alpha(tmp_path: Path) -> Path:
    """A wheel with a package, a console script and every .data scheme."""
    return build_wheel(
        tmp_path / "wheels",
        "Alpha.Pkg",
        "1.0",
        files={
            "alpha/__init__.py": b"VALUE = 'alpha'\n",
            "alpha/cli.py": b"def main():\n    print('hello from alpha')\n    return 0\n",
            "alpha_pkg-1.0.dist-info/entry_points.txt": (
                b"[console_scripts]\nalpha-hello = alpha.cli:main\n"
            ),
            "alpha_pkg-1.0.data/scripts/alpha-raw": b"#!python\nprint('raw')\n",
            "alpha_pkg-1.0.data/headers/alpha.h": b"int alpha(void);\n",
            "alpha_pkg-1.0.data/data/share/alpha/readme.txt": b"data file\n",
        },
    )


@pytest.fixture
def beta(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "wheels", "beta", "2.0")


def test_installs_two_wheels_with_record_installer_and_scripts(
    tmp_path: Path, alpha: Path, beta: Path
) -> None:
    lib = tmp_path / "lib"
    installed = install_wheels([alpha, beta], lib)

    assert [(w.name, w.version, w.wheel) for w in installed] == [
        ("alpha-pkg", "1.0", alpha.name),
        ("beta", "2.0", beta.name),
    ]
    first = installed[0]
    assert isinstance(first, InstalledWheel)
    assert set(first.files) == {
        "alpha/__init__.py",
        "alpha/cli.py",
        "alpha_pkg-1.0.dist-info/METADATA",
        "alpha_pkg-1.0.dist-info/WHEEL",
        "alpha_pkg-1.0.dist-info/entry_points.txt",
        "alpha_pkg-1.0.dist-info/INSTALLER",
        "alpha_pkg-1.0.dist-info/RECORD",
        "bin/alpha-hello",
        "bin/alpha-raw",
        "include/alpha-pkg/alpha.h",
        "data/alpha-pkg/share/alpha/readme.txt",
    }
    assert first.bytes == sum((lib / path).stat().st_size for path in first.files)
    assert _tree(lib) == set(first.files) | set(installed[1].files)

    dist_info = lib / "alpha_pkg-1.0.dist-info"
    assert (dist_info / "INSTALLER").read_text() == "kbundle\n"
    record = (dist_info / "RECORD").read_text().splitlines()
    assert "alpha_pkg-1.0.dist-info/RECORD,," in record
    record_paths = {line.split(",")[0] for line in record}
    assert record_paths == set(first.files)
    assert any(line.startswith("alpha/cli.py,sha256=") for line in record)

    assert (lib / "bin/alpha-raw").read_bytes().startswith(b"#!/usr/bin/env python3\n")
    script = lib / "bin/alpha-hello"
    assert script.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    assert script.stat().st_mode & stat.S_IXUSR


@pytest.mark.skipif(shutil.which("python3") is None, reason="no python3 on PATH for the shebang")
def test_console_script_runs_from_any_directory(tmp_path: Path, alpha: Path) -> None:
    lib = tmp_path / "lib"
    install_wheels([alpha], lib)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [str(lib / "bin/alpha-hello")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from alpha\n"


def test_same_file_in_two_wheels_names_both_and_writes_nothing(tmp_path: Path) -> None:
    one = build_wheel(tmp_path / "w", "one", "1.0", files={"shared/util.py": b"A = 1\n"})
    two = build_wheel(tmp_path / "w", "two", "1.0", files={"shared/util.py": b"A = 2\n"})
    lib = tmp_path / "lib"

    with pytest.raises(FileCollisionError) as caught:
        install_wheels([one, two], lib)

    message = str(caught.value)
    assert one.name in message and two.name in message and "shared/util.py" in message
    assert caught.value.exit_code == 1
    [collision] = caught.value.collisions
    assert (collision.path, collision.first, collision.second) == (
        "shared/util.py",
        one.name,
        two.name,
    )
    assert _tree(lib) == set()


def test_file_already_in_lib_is_a_collision(tmp_path: Path, beta: Path) -> None:
    lib = tmp_path / "lib"
    (lib / "beta").mkdir(parents=True)
    (lib / "beta/__init__.py").write_text("OLD = True\n")

    with pytest.raises(FileCollisionError, match=r"beta/__init__\.py.*already present"):
        install_wheels([beta], lib)
    assert (lib / "beta/__init__.py").read_text() == "OLD = True\n"


def test_file_in_one_wheel_is_a_directory_in_another(tmp_path: Path) -> None:
    one = build_wheel(tmp_path / "w", "one", "1.0", files={"thing": b"a file\n"})
    two = build_wheel(tmp_path / "w", "two", "1.0", files={"thing/mod.py": b""})
    with pytest.raises(FileCollisionError, match="a file in the first, a directory"):
        install_wheels([one, two], tmp_path / "lib")


def test_same_distribution_twice_is_refused(tmp_path: Path) -> None:
    old = build_wheel(tmp_path / "w", "same", "1.0")
    new = build_wheel(tmp_path / "w", "Same", "2.0", files={"same2/__init__.py": b""})
    with pytest.raises(BadWheelError, match=f"distribution same is also installed from {old.name}"):
        install_wheels([old, new], tmp_path / "lib")


@pytest.mark.parametrize("entry", ["../evil.py", "ABSOLUTE", "pkg/../../evil.py"])
def test_path_escaping_lib_is_refused_before_anything_is_written(
    tmp_path: Path, entry: str
) -> None:
    if entry == "ABSOLUTE":
        entry = str(tmp_path / "abs_evil.py")
    wheel = build_wheel(
        tmp_path / "w",
        "sneaky",
        "1.0",
        # The good file comes first: it must not be written either.
        files={"sneaky/__init__.py": b"", entry: b"import os\n"},
    )
    lib = tmp_path / "root" / "lib"

    with pytest.raises(BadWheelError) as caught:
        install_wheels([wheel], lib)

    message = str(caught.value)
    assert wheel.name in message and entry in message
    assert [p.entry for p in caught.value.problems] == [entry]
    assert _tree(tmp_path / "root") == set()
    assert not (tmp_path / "abs_evil.py").exists()
    assert not (tmp_path / "evil.py").exists()


def test_symlink_in_lib_pointing_outside_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "pkg").symlink_to(outside, target_is_directory=True)
    wheel = build_wheel(tmp_path / "w", "pkg", "1.0", files={"pkg/__init__.py": b"X = 1\n"})

    with pytest.raises(BadWheelError, match=r"'pkg/__init__\.py': would be written outside lib"):
        install_wheels([wheel], lib)
    assert list(outside.iterdir()) == []


def test_symlink_entry_in_archive_is_refused(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "links", "1.0")
    with zipfile.ZipFile(wheel, "a") as archive:
        info = zipfile.ZipInfo("links/escape")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(BadWheelError, match=r"'links/escape': symbolic link in archive"):
        install_wheels([wheel], tmp_path / "lib")


def test_console_script_name_escaping_bin_is_refused(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path / "w",
        "ep",
        "1.0",
        files={
            "ep/__init__.py": b"def main(): pass\n",
            "ep-1.0.dist-info/entry_points.txt": b"[console_scripts]\n../../evil = ep:main\n",
        },
    )
    with pytest.raises(BadWheelError, match=r"'\.\./\.\./evil': would be written outside lib"):
        install_wheels([wheel], tmp_path / "root" / "lib")
    assert not (tmp_path / "root" / "evil").exists()


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / wheel_filename("fake", "1.0")
    fake.write_bytes(b"<html>502 Bad Gateway</html>")
    with pytest.raises(BadWheelError, match=rf"{fake.name}: not a valid wheel \(zip\) file"):
        install_wheels([fake], tmp_path / "lib")


def test_zip_without_dist_info_is_refused(tmp_path: Path) -> None:
    path = tmp_path / wheel_filename("nodist", "1.0")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("nodist/__init__.py", "")
    with pytest.raises(BadWheelError, match=rf"{path.name}: not a valid wheel: .*dist-info"):
        install_wheels([path], tmp_path / "lib")


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "ok", "1.0")
    renamed = wheel.rename(tmp_path / "ok.zip")
    with pytest.raises(BadWheelError, match=r"ok\.zip: not a wheel file name"):
        install_wheels([renamed], tmp_path / "lib")


def test_record_hash_mismatch_names_wheel_and_file(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "tampered", "1.0")
    _rewrite(wheel, {"tampered/__init__.py": b"import os; os.system('curl evil')\n"})
    with pytest.raises(BadWheelError) as caught:
        install_wheels([wheel], tmp_path / "lib")
    message = str(caught.value)
    assert wheel.name in message and "tampered/__init__.py" in message
    assert "didn't match RECORD" in message
    assert isinstance(caught.value, KbundleError)
    assert _tree(tmp_path / "lib") == set()


def test_every_bad_wheel_is_reported_at_once(tmp_path: Path, beta: Path) -> None:
    tampered = build_wheel(tmp_path / "w", "tampered", "1.0")
    _rewrite(tampered, {"tampered/__init__.py": b"changed\n"})
    fake = tmp_path / wheel_filename("fake", "1.0")
    fake.write_bytes(b"not a zip")

    with pytest.raises(BadWheelError) as caught:
        install_wheels([tampered, beta, fake], tmp_path / "lib")

    assert {p.wheel for p in caught.value.problems} == {tampered.name, fake.name}
    assert _tree(tmp_path / "lib") == set()


def test_wheel_shipping_its_own_installer_file_is_a_collision(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path / "w",
        "selfish",
        "1.0",
        files={"selfish/__init__.py": b"", "selfish-1.0.dist-info/INSTALLER": b"pip\n"},
    )
    with pytest.raises(FileCollisionError, match=r"INSTALLER.*twice in one wheel"):
        install_wheels([wheel], tmp_path / "lib")


def test_identical_files_are_hard_linked(tmp_path: Path) -> None:
    blob = os.urandom(100_000)
    one = build_wheel(
        tmp_path / "w",
        "one",
        "1.0",
        files={
            "one/lib/libx.so": blob,
            "one/lib/libx.so.0": blob,
            "one/other.so": os.urandom(100_000),
            "one/small.py": b"X = 1\n",
            "one/small2.py": b"X = 1\n",
        },
    )
    two = build_wheel(tmp_path / "w", "two", "1.0", files={"two/libx.so.0.1": blob})
    lib = tmp_path / "lib"
    installed = install_wheels([one, two], lib)

    assert [w.shared_bytes for w in installed] == [100_000, 100_000]
    paths = ("one/lib/libx.so", "one/lib/libx.so.0", "two/libx.so.0.1")
    assert len({(lib / rel).stat().st_ino for rel in paths}) == 1
    assert (lib / "two/libx.so.0.1").read_bytes() == blob
    assert (lib / "one/other.so").stat().st_ino != (lib / "one/lib/libx.so").stat().st_ino
    # Small files are not worth it: each keeps its own inode.
    assert (lib / "one/small.py").stat().st_ino != (lib / "one/small2.py").stat().st_ino
    assert not list(lib.rglob("*.kbundle-link"))
