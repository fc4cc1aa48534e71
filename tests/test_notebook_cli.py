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
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.helpers.index_server import IndexServer
from tests.helpers.wheels import build_wheel

OFFLINE = ["unshare", "-n"] if shutil.which("unshare") and os.geteuid() == 0 else []


def _image_venv(root: Path, packages: dict[str, str], *, pip: bool = False) -> Path:
    """A venv playing the image, holding tiny stand-ins of ``packages`` (and pip if asked)."""
    venv = root / "image"
    base = getattr(sys, "_base_executable", sys.executable)
    flags = [] if pip else ["--without-pip"]
    subprocess.run([base, "-m", "venv", *flags, str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for name, version in packages.items():
        (site / f"{name}.py").write_text(f"SOURCE = 'image'\nVERSION = {version!r}\n")
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("image\n")
        (info / "RECORD").write_text(f"{name}.py,,\n")
    return python


def _capture(python: Path, out: Path) -> Path:
    res = run_cli("target", "capture", "--python", str(python), "-o", str(out))
    assert res.exit_code == 0, res.stderr
    return out


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
    build_wheel(
        simple,
        "app",
        "1.0",
        requires=["numpy>=1.20", "helper"],
        files={"app/__init__.py": b"import helper\nVALUE = helper.X + 1\n"},
    )
    build_wheel(simple, "helper", "2.0", files={"helper.py": b"X = 41\n"})
    build_wheel(
        simple, "numpy", "1.26.4", files={"numpy.py": b"SOURCE = 'lib'\nVERSION = '1.26.4'\n"}
    )
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
    python = _image_venv(tmp_path, {"numpy": "2.0.2"})
    target = _capture(python, tmp_path / "image.toml")
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
