"""Source builds: a real C extension built in isolation, cached per key, logged.

The isolated build installs setuptools through pip's normal configuration,
as a user's build would.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bundler.build import builder as build
from bundler.build.builder import BuildError, build_wheel
from bundler.build.recipes import Host, Recipe, choose_recipe, detect_host
from bundler.cache import cache_dir
from bundler.errors import KbundleError
from bundler.target.capture import run_probe, target_from_facts
from bundler.target.manifest import InstalledDist
from bundler.target.model import Cuda, Target
from bundler.target.presets import load_preset
from tests.helpers.wheels import build_sdist

GOOD_C = b"""\
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(ANSWER); }

static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tinyext", NULL, -1, methods};

PyMODINIT_FUNC PyInit_tinyext(void) { return PyModule_Create(&module); }
"""
BROKEN_C = b"int broken( { return 42 }\n"

# ANSWER comes from the environment, so a test can see that a recipe's env
# reaches the compiler.
SETUP_PY = b"""\
import os
from setuptools import Extension, setup

answer = os.environ.get("TINY_ANSWER", "42")
setup(ext_modules=[Extension("tinyext", ["tinyext.c"], define_macros=[("ANSWER", answer)])])
"""
PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinyext"
version = "1.0"
"""


def c_sdist(directory: Path, source: bytes = GOOD_C) -> Path:
    """An sdist of ``tinyext``: one C extension whose answer() returns ANSWER."""
    return build_sdist(
        directory,
        "tinyext",
        "1.0",
        pyproject=PYPROJECT,
        extra_files={"setup.py": SETUP_PY, "tinyext.c": source},
    )


def generic(env: dict[str, str] | None = None) -> Recipe:
    return Recipe(
        name="tinyext",
        env=env or {},
        key="generic",
        cuda_runtime_major=None,
        warnings=(),
        needs_python_abi=True,
    )


def call_answer(wheel: Path, into: Path, python: str = sys.executable) -> int:
    """Unzip ``wheel`` and call ``tinyext.answer()`` in a fresh interpreter."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(into)
    code = "import tinyext; print(tinyext.answer())"
    out = subprocess.run(
        [python, "-c", code], cwd=into, capture_output=True, text=True, check=True
    ).stdout
    return int(out)


@pytest.fixture(scope="module")
def host() -> Host:
    return detect_host(None)


@pytest.fixture(scope="module")
def host_target() -> Target:
    return target_from_facts(run_probe(sys.executable), name="host")


@pytest.fixture
def frontend_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every ``python -m build`` command the module runs (the real one still runs)."""
    runs: list[list[str]] = []
    real = build._run

    def counting(command: list[str], *args: Any, **kwargs: Any) -> int:
        if command[1:3] == ["-m", "build"]:
            runs.append(command)
        return real(command, *args, **kwargs)

    monkeypatch.setattr(build, "_run", counting)
    return runs


def test_c_extension_builds_installs_and_is_cached(
    tmp_path: Path, host: Host, host_target: Target, frontend_runs: list[list[str]]
) -> None:
    sdist = c_sdist(tmp_path / "dist")
    recipe = choose_recipe("tinyext", host_target, host)
    wheel = build_wheel(sdist, recipe, host_target, host, sdist_sha256="sha-1")

    cp = "cp{}{}".format(*sys.version_info[:2])
    assert wheel.name.startswith(f"tinyext-1.0-{cp}-{cp}-")
    assert wheel.is_relative_to(cache_dir() / "builds")
    assert (wheel.parent / "build.log").is_file()
    assert not list(wheel.parent.glob(".tmp-*")), "the work folder is cleaned up"
    assert call_answer(wheel, tmp_path / "installed") == 42

    again = build_wheel(sdist, recipe, host_target, host, sdist_sha256="sha-1")
    assert again == wheel
    assert len(frontend_runs) == 1, "the second call is a cache hit"


def test_failed_build_names_the_log_and_shows_its_tail(
    tmp_path: Path, host: Host, host_target: Target
) -> None:
    sdist = c_sdist(tmp_path / "dist", source=BROKEN_C)
    with pytest.raises(BuildError) as caught:
        build_wheel(sdist, generic(), host_target, host, sdist_sha256="sha-broken")

    error = caught.value
    assert error.package == "tinyext"
    assert error.log.is_file()
    assert str(error.log) in str(error)
    assert "tinyext-1.0.tar.gz failed" in str(error)
    assert "error" in error.tail.lower()
    assert error.tail in str(error)
    assert len(error.tail.splitlines()) <= 20
    assert "tinyext.c" in error.log.read_text()
    assert not list(error.log.parent.glob("*.whl")), "a failure caches nothing"


def test_wheel_for_another_python_abi_is_refused(
    tmp_path: Path, host: Host, host_target: Target
) -> None:
    # A recipe claiming ABI independence lets the host Python build; the
    # wheel's cpXY tag then gives it away.
    other = next(
        target
        for target in map(load_preset, ("kaggle-gpu-2026", "kaggle-gpu-2024"))
        if target.python_version != host.python_version
    )
    recipe = replace(generic(), needs_python_abi=False)
    sdist = c_sdist(tmp_path / "dist")
    with pytest.raises(KbundleError, match="--build-python") as caught:
        build_wheel(sdist, recipe, other, host, sdist_sha256="sha-abi")
    assert "cannot install" in str(caught.value)
    assert not list((cache_dir() / "builds").glob("*/*.whl"))


def test_concurrent_builds_of_one_key_build_once_with_the_recipe_env(
    tmp_path: Path, host: Host, host_target: Target, frontend_runs: list[list[str]]
) -> None:
    sdist = c_sdist(tmp_path / "dist")
    recipe = generic({"TINY_ANSWER": "7"})
    results: list[Path] = []

    def run() -> None:
        results.append(build_wheel(sdist, recipe, host_target, host, sdist_sha256="sha-1"))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 2 and results[0] == results[1]
    assert len(frontend_runs) == 1
    assert call_answer(results[0], tmp_path / "installed") == 7


def pyenv_python(version: str) -> str | None:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob(f"{version}.*/bin/python{version}"))
    return str(found[-1]) if found else None


def test_build_python_gets_its_own_frontend_env(tmp_path: Path) -> None:
    wanted = "3.12" if sys.version_info[:2] != (3, 12) else "3.10"
    python = pyenv_python(wanted)
    if python is None:
        pytest.skip(f"no pyenv Python {wanted} under $PYENV_ROOT/versions")
    host = detect_host(python)
    target = target_from_facts(run_probe(python), name="other-python")
    recipe = choose_recipe("tinyext", target, host)

    wheel = build_wheel(c_sdist(tmp_path / "dist"), recipe, target, host, sdist_sha256="sha-1")

    cp = "cp" + wanted.replace(".", "")
    assert wheel.name.startswith(f"tinyext-1.0-{cp}-{cp}-")
    assert list((cache_dir() / "build-envs").glob("*/bin/python"))
    assert call_answer(wheel, tmp_path / "installed", python=python) == 42


def test_unsafe_sdist_is_refused_before_building(
    tmp_path: Path, host: Host, host_target: Target, frontend_runs: list[list[str]]
) -> None:
    sdist = tmp_path / "evil-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for name in ("evil-1.0/PKG-INFO", "evil-1.0/../../escaped.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            archive.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(KbundleError, match=re.escape("evil-1.0.tar.gz")):
        build_wheel(sdist, generic(), host_target, host, sdist_sha256="sha-evil")
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert frontend_runs == []


# --- cache keys, without compiling: the frontend is replaced by a fake ----------------


@pytest.fixture
def fake_frontend(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the real build by one writing a pure wheel; returns the recipe keys built."""
    built: list[str] = []

    def fake(sdist: Path, recipe: Recipe, _host: Host, work: Path, *_: Any) -> Path:
        built.append(recipe.key)
        wheel = work / "out" / "tinyext-1.0-py3-none-any.whl"
        wheel.parent.mkdir()
        wheel.write_bytes(b"not really a zip")
        return wheel

    monkeypatch.setattr(build, "_run_frontend", fake)
    return built


TargetChange = Callable[[Target], Target]
RecipeChange = Callable[[Recipe], Recipe]
CACHE_CASES: dict[str, tuple[TargetChange, RecipeChange, str, int]] = {
    "same sdist, recipe and target": (lambda t: t, lambda r: r, "sha-1", 1),
    "renamed target (same facts)": (lambda t: replace(t, name="renamed"), lambda r: r, "sha-1", 1),
    "another sdist": (lambda t: t, lambda r: r, "sha-2", 2),
    "another recipe": (lambda t: t, lambda r: replace(r, key="other"), "sha-1", 2),
    "same recipe key, other flags": (
        lambda t: t,
        lambda r: replace(r, env={"CMAKE_ARGS": "-DX=1"}),
        "sha-1",
        2,
    ),
    "another GPU": (
        lambda t: replace(t, cuda=Cuda(runtime="12.8", driver_max="13.0", archs=("8.0",))),
        lambda r: r,
        "sha-1",
        2,
    ),
    "another image package list: the build is reused": (
        lambda t: replace(t, installed={"numpy": InstalledDist("numpy", "2.0", ())}),
        lambda r: r,
        "sha-1",
        1,
    ),
}


@pytest.mark.parametrize(
    ("change_target", "change_recipe", "sha", "builds"),
    list(CACHE_CASES.values()),
    ids=list(CACHE_CASES),
)
def test_cache_key_is_sdist_recipe_and_target_build_fingerprint(
    tmp_path: Path,
    host: Host,
    host_target: Target,
    fake_frontend: list[str],
    change_target: Callable[[Target], Target],
    change_recipe: Callable[[Recipe], Recipe],
    sha: str,
    builds: int,
) -> None:
    sdist = tmp_path / "tinyext-1.0.tar.gz"
    first = build_wheel(sdist, generic(), host_target, host, sdist_sha256="sha-1")
    second = build_wheel(
        sdist, change_recipe(generic()), change_target(host_target), host, sdist_sha256=sha
    )
    assert len(fake_frontend) == builds
    assert (first == second) is (builds == 1)
