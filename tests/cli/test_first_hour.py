"""What a new user trips over in the first hour, each replayed from the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index_server import IndexServer
from tests.helpers.run import Result, run_cli
from tests.helpers.wheels import build_wheel


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "index" / "simple"
    build_wheel(simple, "app", "1.0", requires=["helper"], files={"app/__init__.py": b""})
    build_wheel(simple, "helper", "2.0", files={"helper.py": b"X = 41\n"})
    build_wheel(simple, "other", "3.0", files={"other.py": b""})
    with IndexServer({"simple": simple}) as server:
        yield server


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """The host interpreter, captured: an image with nothing the index serves."""
    out = tmp_path / "host.toml"
    res = run_cli("target", "capture", "--python", sys.executable, "-o", str(out))
    assert res.exit_code == 0, res.stderr
    return out


@pytest.fixture
def project(tmp_path: Path, target: Path, index: IndexServer) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        f'[tool.kbundle]\ntarget = "{target}"\nindex-url = "{index.index_url()}"\n'
    )
    return root


def _lock_file(project: Path) -> Path:
    [lock] = (project / "lockfiles").glob("pylock.*.toml")
    return lock


def test_a_lock_for_other_requirements_is_not_silently_replaced(project: Path) -> None:
    assert run_cli("lock", "app", cwd=project).exit_code == 0
    lock = _lock_file(project)
    before = lock.read_bytes()

    refused = run_cli("lock", "other", cwd=project)
    assert refused.exit_code == 2, refused.stderr
    assert "was locked for other requirements (app)" in refused.stderr
    assert "adds other; drops app" in refused.stderr
    assert "--replace" in refused.stderr and "-o" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert lock.read_bytes() == before
    # vendor relocks when given requirements: the same guard.
    vendor = run_cli("vendor", "other", "-t", "lib", cwd=project)
    assert vendor.exit_code == 2 and "--replace" in vendor.stderr
    assert lock.read_bytes() == before and not (project / "lib").exists()

    same = run_cli("lock", "app", cwd=project)  # the same requirements: no fuss
    assert same.exit_code == 0 and "warning" not in same.stderr

    replaced = run_cli("lock", "other", "--replace", cwd=project)
    assert replaced.exit_code == 0, replaced.stderr
    assert "warning: replacing lockfiles/" in replaced.stderr
    assert "adds other; drops app" in replaced.stderr
    assert "other" in lock.read_text() and 'name = "app"' not in lock.read_text()


def test_a_requirements_file_that_changed_replaces_the_lock_with_a_warning(
    project: Path,
) -> None:
    reqs = project / "requirements.in"
    reqs.write_text("app\n")
    assert run_cli("lock", "-r", "requirements.in", cwd=project).exit_code == 0
    reqs.write_text("app\nother\n")  # the file is the record of what is wanted
    res = run_cli("lock", "-r", "requirements.in", cwd=project)
    assert res.exit_code == 0, res.stderr
    assert "warning: replacing" in res.stderr and "adds other" in res.stderr


def test_vendor_relocks_when_the_project_requirements_changed(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    base = pyproject.read_text()
    pyproject.write_text(base + 'requirements = ["app"]\n')
    first = run_cli("vendor", "-q", "--json", cwd=project)
    assert first.exit_code == 0, first.stderr
    assert {p["name"] for p in json.loads(first.stdout)["packages"]} == {"app", "helper"}
    # Unchanged requirements: the lock is used as it is, not written again.
    lock = _lock_file(project)
    stamp = lock.stat().st_mtime_ns
    again = run_cli("vendor", "-q", cwd=project)
    assert again.exit_code == 0, again.stderr
    assert lock.stat().st_mtime_ns == stamp
    pyproject.write_text(base + 'requirements = ["app", "other"]\n')
    res = run_cli("vendor", "--json", cwd=project)
    assert res.exit_code == 0, res.stderr
    assert "warning: replacing" in res.stderr and "adds other" in res.stderr
    assert {p["name"] for p in json.loads(res.stdout)["packages"]} == {"app", "helper", "other"}


def test_check_lib_compares_it_with_the_project_lock(project: Path) -> None:
    # The quickstart's lib, then a lock for something else: the lib is stale.
    assert run_cli("vendor", "app", "-t", "submission/lib", "-q", cwd=project).exit_code == 0
    ok = run_cli("check", "--lib", "submission/lib", cwd=project)
    assert ok.exit_code == 0, ok.stderr
    assert "lock lockfiles/pylock." in ok.stderr and "lib submission/lib" in ok.stderr
    assert run_cli("lock", "other", "--replace", "-q", cwd=project).exit_code == 0
    stale = run_cli("check", "--lib", "submission/lib", cwd=project)
    assert stale.exit_code == 1, stale.stderr
    assert "[lib-stale]" in stale.stderr
    assert "the lock vendors other 3.0, but the lib does not have it" in stale.stderr
    assert "the lib was vendored for app" in stale.stderr


def _with_umask(mask: int, *args: str, cwd: Path) -> Result:
    old = os.umask(mask)
    try:
        return run_cli(*args, cwd=cwd)
    finally:
        os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664)])
def test_written_files_follow_the_umask(project: Path, mask: int, mode: int) -> None:
    res = _with_umask(mask, "vendor", "app", "-t", "submission/lib", "-q", cwd=project)
    assert res.exit_code == 0, res.stderr
    (project / "submission" / "main.py").write_text("def agent(obs, cfg):\n    return 'yes'\n")
    assert _with_umask(mask, "pack", "-q", cwd=project).exit_code == 0
    lib = project / "submission" / "lib"
    for path in (
        lib / "kbundle_boot.py",
        lib / "kbundle.json",
        _lock_file(project),
        project / "submission.tar.gz",
    ):
        assert path.stat().st_mode & 0o777 == mode, path
    with tarfile.open(project / "submission.tar.gz") as tar:
        assert tar.getmember("lib/kbundle_boot.py").mode == mode


def test_reports_label_sizes_count_right_and_keep_paths_whole(project: Path) -> None:
    lib = project / ("a-long-folder-name-" * 5) / "lib"
    res = run_cli("vendor", "helper", "-t", str(lib), cwd=project)  # stderr is not a terminal
    assert res.exit_code == 0, res.stderr
    lines = res.stderr.splitlines()
    lock_header = next(line for line in lines if line.startswith("package"))
    assert lock_header.split() == ["package", "version", "source", "download"]
    assert "1 package for " in res.stderr and " to download); " in res.stderr
    vendor_header = [line for line in lines if line.startswith("package")][1]
    assert vendor_header.split() == ["package", "version", "source", "installed"]
    [summary] = [line for line in lines if line.startswith("vendored ")]
    assert summary.startswith("vendored 1 package (") and "installed) into " in summary
    assert str(lib.relative_to(project)) in summary  # the whole path, on the same line


def test_printed_paths_are_normalised(tmp_path: Path, target: Path, index: IndexServer) -> None:
    example = tmp_path / "repo" / "examples" / "agent"
    example.mkdir(parents=True)
    (example / "pyproject.toml").write_text(
        f'[tool.kbundle]\ntarget = "{target}"\nindex-url = "{index.index_url()}"\n'
        'lock = "../../lockfiles/pylock.agent.toml"\n'
    )
    res = run_cli("lock", "app", cwd=example)
    assert res.exit_code == 0, res.stderr
    assert "/.." not in res.stderr
    assert f"-> {tmp_path / 'repo' / 'lockfiles' / 'pylock.agent.toml'}" in res.stderr
    here = run_cli(
        "--project", str(example / "pyproject.toml"), "lock", "app", cwd=tmp_path / "repo"
    )
    assert "-> lockfiles/pylock.agent.toml" in here.stderr, here.stderr


def test_a_misspelt_command_gets_a_suggestion() -> None:
    res = run_cli("chek")
    assert res.exit_code == 2
    assert "No such command 'chek'. Did you mean 'check'?" in res.stderr


def test_check_verbose_lists_the_cuda_libraries_and_where_they_are(tmp_path: Path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is needed to build the fake CUDA libraries")
    build = tmp_path / "cbuild"
    build.mkdir()
    for soname, symbol in (
        ("libcudart.so.12", "fake_cudart"),
        ("libcublas.so.12", "fake_cublas"),
        ("libcuda.so.1", "fake_cuda"),
    ):
        (build / f"{symbol}.c").write_text(f"int {symbol}(void) {{ return 1; }}\n")
        subprocess.run(
            [gcc, "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", soname, f"{symbol}.c"],
            cwd=build,
            check=True,
        )
        (build / (soname.split(".so")[0] + ".so")).symlink_to(soname)
    (build / "gpu.c").write_text(
        "int fake_cudart(void); int fake_cublas(void); int fake_cuda(void);\n"
        "int gpu(void) { return fake_cudart() + fake_cublas() + fake_cuda(); }\n"
    )
    lib = tmp_path / "lib"
    (lib / "gpupkg").mkdir(parents=True)
    (lib / "nvidia" / "cuda_runtime" / "lib").mkdir(parents=True)
    subprocess.run(
        [
            gcc,
            "-shared",
            "-fPIC",
            "-o",
            str(lib / "gpupkg" / "libgpu.so"),
            "gpu.c",
            "-L.",
            "-lcudart",
            "-lcublas",
            "-lcuda",
        ],
        cwd=build,
        check=True,
    )
    shutil.copy(build / "libcudart.so.12", lib / "nvidia" / "cuda_runtime" / "lib")
    # `check --lib` wants a lib: installed distributions, as `pip install -t` leaves.
    dist_info = lib / "gpupkg-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: gpupkg\nVersion: 1.0\n")
    res = run_cli("check", "-v", "--lib", str(lib), "--target", "kaggle-t4", cwd=tmp_path)
    lines = [line for line in res.stderr.splitlines() if line.startswith("cuda: ")]
    assert lines == [
        "cuda: libcublas.so.12: from the image; needed by gpupkg/libgpu.so",
        "cuda: libcuda.so.1: from the GPU driver; needed by gpupkg/libgpu.so",
        "cuda: libcudart.so.12: in the lib at nvidia/cuda_runtime/lib/libcudart.so.12; "
        "needed by gpupkg/libgpu.so",
    ], res.stderr
    quiet = run_cli("check", "--lib", str(lib), "--target", "kaggle-t4", cwd=tmp_path)
    assert "cuda: " not in quiet.stderr
