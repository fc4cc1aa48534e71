"""Notebook competitions from the user's side: a lib shipped as a dataset, a
wheelhouse for ``pip install --no-index``, offline switches in the bundle.

The image is a venv with stand-in packages, captured with ``kbundle target
capture``; the index is a loopback one serving wheels built in the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bundler.vendor.bootstrap import SNIPPET
from tests.helpers.image import capture, image_venv
from tests.helpers.index_server import IndexServer
from tests.helpers.run import run_cli
from tests.helpers.wheels import build_app_wheels, build_sdist, build_wheel

OFFLINE = ["unshare", "-n"] if shutil.which("unshare") and os.geteuid() == 0 else []


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "KBUNDLE_", "PIP_", "HF_", "TRANSFORMERS_"))
    }
    env.update(extra)
    return env


def _offline_run(
    command: list[str], *, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with no network (when this machine lets us unshare it)."""
    return subprocess.run(
        [*OFFLINE, *command],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_clean_env(**env),
        check=False,
    )


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "index" / "simple"
    build_app_wheels(simple)
    build_wheel(simple, "datasets", "3.0.0", files={"datasets/__init__.py": b""})
    with IndexServer({"simple": simple}) as server:
        yield server


ENV_PROBE = """
import json, os, sys
sys.path.insert(0, {lib!r})
import kbundle_boot
keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "WANDB_MODE")
print(json.dumps({{k: os.environ.get(k) for k in keys}}))
"""


def _env_in_bundle(python: Path, lib: Path, **env: str) -> dict[str, str | None]:
    proc = _offline_run([str(python), "-c", ENV_PROBE.format(lib=str(lib))], **env)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, str | None] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_bundle_is_offline_by_default_unless_set_or_turned_off(
    index: IndexServer, tmp_path: Path
) -> None:
    python = image_venv(tmp_path, {"numpy": "2.0.2"})
    target = capture(python, tmp_path / "image.toml")
    project = tmp_path / "project"
    project.mkdir()
    common = ("--target", str(target), "-i", index.index_url(), "-q")
    res = run_cli("vendor", "app", "datasets", "-t", "lib", *common, cwd=project)
    assert res.exit_code == 0, res.stderr
    lib = project / "lib"
    assert _env_in_bundle(python, lib) == {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",  # the lock holds datasets
        "WANDB_MODE": None,  # it holds no wandb
    }
    # A value the user set wins.
    assert _env_in_bundle(python, lib, HF_HUB_OFFLINE="0")["HF_HUB_OFFLINE"] == "0"

    (project / "pyproject.toml").write_text("[tool.kbundle]\noffline-env = false\n")
    res = run_cli("vendor", "app", "datasets", "-t", "lib", *common, cwd=project)
    assert res.exit_code == 0, res.stderr
    assert set(_env_in_bundle(python, lib).values()) == {None}


def _buildable_sdist(simple: Path) -> None:
    """A pure-Python sdist kbundle must build (so the bundle holds a built wheel)."""
    build_sdist(
        simple,
        "buildme",
        "0.5",
        pyproject=textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "buildme"
        version = "0.5"
        dependencies = []
        [tool.setuptools]
        py-modules = ["buildme"]
    """),
        extra_files={
            "buildme.py": b"BUILT = True\n",
            "setup.py": b"from setuptools import setup\nsetup()\n",
        },
    )


def _kaggle_upload(dataset: Path, inputs: Path, slug: str) -> Path:
    """Play `kaggle datasets create --dir-mode zip` and Kaggle's mount of the dataset.

    The Kaggle CLI uploads each top-level folder as a zip archive and the
    files as they are; Kaggle unpacks the archives, and the notebook sees the
    result read-only under /kaggle/input/<slug>/.
    """
    mounted = inputs / slug
    mounted.mkdir(parents=True)
    for entry in sorted(dataset.iterdir()):
        if entry.name == "dataset-metadata.json":
            continue  # read by the CLI, not uploaded as a file
        if entry.is_dir():
            archive = shutil.make_archive(str(dataset.parent / entry.name), "zip", entry)
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(mounted / entry.name)
        else:
            shutil.copy(entry, mounted / entry.name)
    for path in mounted.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    mounted.chmod(0o555)
    return mounted


NOTEBOOK_CELL = """
import json
import app, buildme, numpy
print(json.dumps({"value": app.VALUE, "app": app.__file__, "built": buildme.BUILT,
                  "numpy": numpy.SOURCE, "hf_offline": os.environ.get("HF_HUB_OFFLINE")}))
"""


def test_notebook_competition_run(index: IndexServer, tmp_path: Path) -> None:
    """Lock and vendor for a captured image, ship the lib (and a wheelhouse) as a
    dataset, then use both in a notebook with no network."""
    simple = Path(index.indexes["simple"])
    _buildable_sdist(simple)
    python = image_venv(tmp_path / "kaggle", {"numpy": "2.0.2"}, pip=True)
    target = capture(python, tmp_path / "kaggle.toml")
    project = tmp_path / "project"
    project.mkdir()
    common = ("--target", str(target), "-i", index.index_url(), "--build", "buildme")

    lock = run_cli("lock", "app", "buildme", *common, cwd=project)
    assert lock.exit_code == 0, lock.stderr
    vendor = run_cli("vendor", "-t", "lib", *common, cwd=project)
    assert vendor.exit_code == 0, vendor.stderr
    assert "vendored 3 packages" in vendor.stderr  # app, helper, buildme: numpy is the image's
    house = run_cli("vendor", "--wheelhouse", "wheels", *common, "--json", cwd=project)
    assert house.exit_code == 0, house.stderr
    doc = json.loads(house.stdout)
    assert {w["name"]: w["source"] for w in doc["wheels"]} == {
        "app": "vendor",
        "buildme": "build",
        "helper": "vendor",
    }
    pack = run_cli(
        "pack",
        "--dataset",
        "dataset",
        "--dataset-id",
        "alice/notebook-libs",
        "--lib",
        "lib",
        "--add",
        "wheels",
        cwd=project,
    )
    assert pack.exit_code == 0, pack.stderr
    inputs = tmp_path / "kaggle" / "input"
    mounted = _kaggle_upload(project / "dataset", inputs, "notebook-libs")

    # The notebook: cells are exec()'d (no __file__), from /kaggle/working.
    working = tmp_path / "kaggle" / "working"
    working.mkdir()
    cell = f"exec(compile({(SNIPPET + NOTEBOOK_CELL)!r}, '<cell>', 'exec'))"
    run = _offline_run([str(python), "-c", cell], cwd=working, KBUNDLE_INPUT=str(inputs))
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["value"] == 42 and got["built"] is True
    assert got["app"].startswith(str(mounted / "lib"))
    assert got["numpy"] == "image"  # nothing the image has is shipped
    assert got["hf_offline"] == "1"

    # The wheelhouse from the same dataset, installed by pip with no network
    # into a fresh venv of the image's Python holding the image's packages.
    fresh = image_venv(tmp_path / "fresh", {"numpy": "2.0.2"}, pip=True)
    wheels = mounted / "wheels"
    assert doc["install"] == "pip install --no-index --find-links wheels -r wheels/requirements.txt"
    pip = _offline_run(
        [
            str(fresh),
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            str(wheels),
            "-r",
            str(wheels / "requirements.txt"),
        ],
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    probe = "import json, app, buildme, numpy; print(json.dumps([app.VALUE, numpy.SOURCE]))"
    used = _offline_run([str(fresh), "-c", probe], cwd=working)
    assert used.returncode == 0, used.stderr
    assert json.loads(used.stdout) == [42, "image"]


def test_wheelhouse_never_replaces_a_foreign_folder(index: IndexServer, tmp_path: Path) -> None:
    target = capture(image_venv(tmp_path, {}), tmp_path / "image.toml")
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    args = ("vendor", "helper", "--target", str(target), "-i", index.index_url())
    res = run_cli(*args, "--wheelhouse", str(folder), cwd=tmp_path)
    assert res.exit_code == 2, res.stderr
    assert "not a wheelhouse kbundle wrote" in res.stderr
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert not (tmp_path / "lockfiles").exists()  # refused before locking
    # A wheelhouse kbundle wrote is replaced, atomically, by the next one.
    fresh = tmp_path / "fresh"
    assert run_cli(*args, "--wheelhouse", str(fresh), "-q", cwd=tmp_path).exit_code == 0
    again = run_cli(*args, "--wheelhouse", str(fresh), "-q", cwd=tmp_path)
    assert again.exit_code == 0, again.stderr
    assert sorted(p.name for p in fresh.iterdir()) == [
        "helper-2.0-py3-none-any.whl",
        "requirements.txt",
    ]
