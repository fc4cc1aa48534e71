"""End to end, from PyPI: llama-cpp-python vendored for an image and used offline.

Slow (a CPU build of llama.cpp takes several minutes on 2 cores), so the
build goes to kbundle's real, persistent cache (KBUNDLE_E2E_CACHE_DIR, else
the user cache directory): the first run builds, later runs — CI included —
reuse the wheel, since built wheels are keyed by the sdist, the recipe and the
target's build fingerprint.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import pytest

from tests.helpers.run import REPO, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.network]

LLAMA = "llama-cpp-python==0.3.36"
IMAGE_PACKAGES = ["numpy==2.2.6", "jinja2==3.1.6", "markupsafe==3.0.2", "typing-extensions==4.15.0"]


@dataclass
class Bundle:
    cache: str
    root: Path
    python: Path
    target: Path
    lock: Path
    lib: Path
    vendor_json: dict[str, object]


def _offline(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run with no network at all (a fresh network namespace) where we may."""
    prefix = ["unshare", "-n"] if shutil.which("unshare") and os.geteuid() == 0 else []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KBUNDLE_LIB"))}
    return subprocess.run(
        [*prefix, *cmd], capture_output=True, text=True, env=env, check=False, **kwargs
    )  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundle]:
    cache = os.environ.get("KBUNDLE_E2E_CACHE_DIR") or platformdirs.user_cache_dir("kbundle")
    saved = os.environ.get("KBUNDLE_CACHE_DIR")
    os.environ["KBUNDLE_CACHE_DIR"] = cache
    root = tmp_path_factory.mktemp("e2e")
    try:
        # (a) a virtualenv plays the image: it has numpy, jinja2 and typing-extensions.
        venv = root / "image"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        subprocess.run([str(python), "-m", "pip", "install", "-q", *IMAGE_PACKAGES], check=True)
        # (b) capture it as the target.
        target = root / "image.toml"
        res = run_cli("target", "capture", "--python", str(python), "-o", str(target))
        assert res.exit_code == 0, res.stderr
        # (c) lock and vendor llama-cpp-python, built from its sdist for the CPU.
        lock = root / "pylock.toml"
        lib = root / "submission" / "lib"
        res = run_cli(
            "vendor",
            LLAMA,
            "--target",
            str(target),
            "--build",
            "llama-cpp-python",
            "--cpu",
            "-t",
            str(lib),
            "--lock",
            str(lock),
            "--json",
        )
        assert res.exit_code == 0, res.stderr
        yield Bundle(cache, root, python, target, lock, lib, json.loads(res.stdout))
    finally:
        if saved is None:
            os.environ.pop("KBUNDLE_CACHE_DIR", None)
        else:
            os.environ["KBUNDLE_CACHE_DIR"] = saved


def test_llama_cpp_imports_offline_from_the_lib_with_the_image_numpy(bundle: Bundle) -> None:
    sources = {p["name"]: p["source"] for p in bundle.vendor_json["packages"]}  # type: ignore[attr-defined]
    assert sources["llama-cpp-python"] == "build"
    assert sources["diskcache"] == "vendor"
    assert "numpy" not in sources and "jinja2" not in sources  # the image's, not copied
    assert not list(bundle.lib.glob("numpy*"))
    code = (
        f"import sys, json; sys.path.insert(0, {str(bundle.lib)!r})\n"
        "import kbundle_boot, llama_cpp, numpy, jinja2\n"
        "print(json.dumps({'llama': llama_cpp.__file__, 'numpy': numpy.__file__,"
        " 'jinja2': jinja2.__file__, 'gpu': bool(llama_cpp.llama_supports_gpu_offload())}))\n"
    )
    proc = _offline([str(bundle.python), "-c", code])
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["llama"].startswith(str(bundle.lib))
    assert got["numpy"].startswith(str(bundle.root / "image"))
    assert got["jinja2"].startswith(str(bundle.root / "image"))
    assert got["gpu"] is False  # a CPU build, as asked


def test_second_vendor_is_offline_and_reuses_the_build(bundle: Bundle) -> None:
    res = run_cli(
        "vendor",
        "--target",
        str(bundle.target),
        "--build",
        "llama-cpp-python",
        "--cpu",
        "-t",
        str(bundle.lib),
        "--lock",
        str(bundle.lock),
        "--offline",
        "--json",
        env={"KBUNDLE_CACHE_DIR": bundle.cache},
    )
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["seconds"] < 60  # no rebuild


def test_check_passes_on_the_lib(bundle: Bundle) -> None:
    res = run_cli(
        "check",
        "--lib",
        str(bundle.lib),
        "--lock",
        str(bundle.lock),
        "--target",
        str(bundle.target),
    )
    assert res.exit_code == 0, res.stderr


PLAY = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, {play_dir!r})
import play
agent = play.load_agent(Path("main.py"), with_file=False)  # exactly Kaggle's loader
games = [play.play_game(agent, role, "teapot", "things", 20, 300.0)
         for role in ("guesser", "answerer")]
allowed = ({unpacked!r}, sys.prefix, sys.base_prefix, {play_dir!r})
files = {{getattr(m, "__file__", None) for m in list(sys.modules.values())}}
outside = sorted(f for f in files if f and not f.startswith(allowed))
import llama_cpp, numpy
print(json.dumps({{"games": games, "outside": outside, "llama": llama_cpp.__file__,
                  "numpy": numpy.__file__}}))
"""


def test_full_game_offline_from_the_packed_submission(bundle: Bundle) -> None:
    """Pack main.py, the lib and a tiny model; unpack; play both roles with no network."""
    sdists = sorted(Path(bundle.cache).rglob("llama_cpp_python-0.3.36.tar.gz"))
    assert sdists, "the vendored sdist is in kbundle's cache"
    model = bundle.root / "tiny.gguf"
    made = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "llama_agent" / "make_tiny_model.py"),
            "--sdist",
            str(sdists[0]),
            "-o",
            str(model),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    submission = bundle.lib.parent
    shutil.copy(REPO / "examples" / "llama_agent" / "main.py", submission / "main.py")
    archive = bundle.root / "submission.tar.gz"
    res = run_cli("pack", str(submission), "-o", str(archive), "--add", f"{model}:model.gguf")
    assert res.exit_code == 0, res.stderr
    unpacked = bundle.root / "kaggle_simulations" / "agent"
    unpacked.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    assert sorted(p.name for p in unpacked.iterdir()) == ["lib", "main.py", "model.gguf"]
    play_dir = str(REPO / "examples" / "llama_agent")
    script = PLAY.format(play_dir=play_dir, unpacked=str(unpacked))
    proc = _offline([str(bundle.python), "-c", script], cwd=unpacked)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for game in got["games"]:
        assert game["valid"], game
        assert game["moves"] > 0
        assert game.get("ended") != "invalid"
        assert game["max_move_seconds"] < 60
    assert got["outside"] == [], got["outside"]  # nothing from the repo or kbundle's venv
    assert got["llama"].startswith(str(unpacked / "lib"))
    assert got["numpy"].startswith(str(bundle.root / "image"))
    check = run_cli("check", "--lib", str(unpacked / "lib"), "--target", str(bundle.target))
    assert check.exit_code == 0, check.stderr
