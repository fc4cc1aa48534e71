"""`kbundle target …` from the user's side."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import packaging
import pytest

from bundler.target.presets import load_preset
from tests.helpers.run import run_cli

PYENV = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))) / "versions"
PYENV_310 = PYENV / "3.10.13" / "bin" / "python3"

# Run inside another interpreter: its own packaging.tags / markers, with linux_*
# moved behind manylinux/musllinux as kbundle ranks them (see bundler/target/tags.py).
_EXPECTED = r"""
import json
from packaging import markers, tags
plats = list(tags.platform_tags())
native = [p for p in plats if p.startswith("linux_")]
plats = [p for p in plats if p not in native] + native
interp = "cp" + tags.interpreter_version()
out = [str(t) for t in tags.cpython_tags(platforms=plats)]
out += [str(t) for t in tags.compatible_tags(interpreter=interp, platforms=plats)]
print(json.dumps({"tags": out, "markers": markers.default_environment(),
                  "sys_tags": sorted(str(t) for t in tags.sys_tags())}))
"""


def _expected_for(python: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(Path(packaging.__file__).parent.parent)}
    proc = subprocess.run(
        [python, "-c", _EXPECTED], capture_output=True, text=True, check=True, env=env
    )
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_show_kaggle_t4_json(kbundle) -> None:  # type: ignore[no-untyped-def]
    res = kbundle("target", "show", "kaggle-t4", "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["name"] == "kaggle-gpu-2026"
    assert doc["python_full_version"] == "3.12.13"
    assert doc["implementation"] == "cp"
    assert doc["glibc"] == "2.35"
    assert doc["platform_tags"][0] == "cp312-cp312-manylinux_2_35_x86_64"
    assert doc["platform_tags"][-1] == "py30-none-any"
    assert doc["cuda"] == {"runtime": "12.8", "driver_max": "13.0", "archs": ["7.5"]}
    assert doc["markers"]["python_full_version"] == "3.12.13"
    assert doc["markers"]["sys_platform"] == "linux"
    assert doc["installed"]["torch"] == "2.10.0+cu128"
    assert doc["installed"]["jinja2"] == "3.1.6"
    assert doc["preloaded"] == []
    assert doc["fingerprint"].startswith("sha256:")
    # linux_x86_64 is ranked after every manylinux tag of the same interpreter/abi.
    cp312 = [t for t in doc["platform_tags"] if t.startswith("cp312-cp312-")]
    assert cp312[-1] == "cp312-cp312-linux_x86_64"


def test_default_target_and_alias_agree(kbundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    default = json.loads(kbundle("target", "show", "--json", cwd=tmp_path).stdout)
    alias = json.loads(kbundle("target", "show", "kaggle-t4", "--json").stdout)
    assert default["fingerprint"] == alias["fingerprint"]


def test_kaggle_gpu_2024_is_partial_with_preloaded_torch(kbundle) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(kbundle("target", "show", "kaggle-gpu-2024", "--json").stdout)
    assert doc["python_full_version"].startswith("3.10.")
    assert doc["glibc"] == "2.31"
    assert doc["platform_tags"][0] == "cp310-cp310-manylinux_2_31_x86_64"
    assert doc["cuda"]["runtime"] == "12.1"
    assert set(doc["cuda"]["archs"]) == {"7.5", "6.0"}
    assert doc["preloaded"] == ["torch", "transformers"]
    assert doc["installed"]["torch"] == "2.1.2"
    assert doc["installed"]["transformers"] == "4.41.2"
    assert doc["partial"] is True


def test_kaggle_cpu_has_no_cuda(kbundle) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(kbundle("target", "show", "kaggle-cpu-2026", "--json").stdout)
    assert doc["cuda"] is None
    assert doc["installed"]["torch"] == "2.10.0+cpu"
    assert len(doc["installed"]) > 800


def test_list_shows_presets(kbundle) -> None:  # type: ignore[no-untyped-def]
    res = kbundle("target", "list")
    assert res.exit_code == 0
    for text in ("kaggle-gpu-2026", "kaggle-t4", "kaggle-gpu-2024", "kaggle-cpu-2026", "3.12.13"):
        assert text in res.stdout
    # Piped, each preset is one whole line, description and all (grep finds it).
    t4 = next(line for line in res.stdout.splitlines() if "kaggle-t4" in line)
    assert t4.startswith("kaggle-gpu-2026") and t4.endswith(load_preset("kaggle-t4").description)


def test_human_show(kbundle) -> None:  # type: ignore[no-untyped-def]
    res = kbundle("target", "show", "kaggle-gpu-2024")
    assert res.exit_code == 0
    assert "preloaded:    torch, transformers" in res.stdout
    assert "partial" in res.stdout


def test_manifest_replaces_installed(kbundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "freeze.txt"
    manifest.write_text(
        "numpy==1.26.4\n"
        "torch @ https://example.invalid/whl/torch-2.5.1%2Bcu121-cp310-cp310-linux_x86_64.whl\n"
    )
    res = kbundle("target", "show", "kaggle-gpu-2024", "--manifest", str(manifest), "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["installed"] == {"numpy": "1.26.4", "torch": "2.5.1+cu121"}
    base = json.loads(kbundle("target", "show", "kaggle-gpu-2024", "--json").stdout)
    assert doc["fingerprint"] != base["fingerprint"]


def _check_capture(python: str, tmp_path: Path) -> None:
    out = tmp_path / "t.toml"
    res = run_cli(
        "target",
        "capture",
        "--python",
        python,
        "-o",
        str(out),
        "--preloaded",
        "torch, Transformers",
    )
    assert res.exit_code == 0, res.stderr
    assert "captured t:" in res.stderr
    show = run_cli("target", "show", str(out), "--json")
    assert show.exit_code == 0, show.stderr
    doc = json.loads(show.stdout)
    expected = _expected_for(python)
    assert doc["platform_tags"] == expected["tags"]
    assert sorted(doc["platform_tags"]) == expected["sys_tags"]
    assert doc["markers"] == expected["markers"]
    assert doc["preloaded"] == ["torch", "transformers"]
    assert doc["name"] == "t"
    # The capture is a complete target: showing it twice is stable.
    assert json.loads(run_cli("target", "show", str(out), "--json").stdout) == doc


@pytest.mark.skipif(platform.system() != "Linux", reason="targets are Linux")
def test_capture_running_interpreter(tmp_path: Path) -> None:
    _check_capture(sys.executable, tmp_path)


@pytest.mark.skipif(not PYENV_310.exists(), reason=f"no pyenv Python 3.10.13 at {PYENV_310}")
def test_capture_other_interpreter(tmp_path: Path) -> None:
    _check_capture(str(PYENV_310), tmp_path)
    doc = json.loads(run_cli("target", "show", str(tmp_path / "t.toml"), "--json").stdout)
    assert doc["python_full_version"] == "3.10.13"
    assert doc["platform_tags"][0].startswith("cp310-cp310-manylinux_2_")


@pytest.mark.parametrize("minor", ["3.8", "3.9", "3.13"])
def test_probe_runs_on_every_supported_python(minor: str, tmp_path: Path) -> None:
    """The probe runs in the image's Python: 3.8 and newer, stdlib only."""
    found = sorted(PYENV.glob(f"{minor}.*/bin/python3"))
    if not found:
        pytest.skip(f"no pyenv Python {minor} under {PYENV}")
    out = tmp_path / "t.toml"
    res = run_cli("target", "capture", "--python", str(found[-1]), "-o", str(out))
    assert res.exit_code == 0, res.stderr
    doc = json.loads(run_cli("target", "show", str(out), "--json").stdout)
    nodot = minor.replace(".", "")
    assert doc["platform_tags"][0].startswith(f"cp{nodot}-cp{nodot}-manylinux_2_")
    assert doc["markers"]["python_version"] == minor
    assert doc["python_full_version"].startswith(minor + ".")


def test_capture_records_installed_with_requirements(tmp_path: Path) -> None:
    out = tmp_path / "img.toml"
    assert run_cli("target", "capture", "-o", str(out)).exit_code == 0
    text = out.read_text()
    assert "[installed.click]" in text
    assert "[installed.rich]" in text and "requires = [" in text


def test_capture_to_stdout() -> None:
    res = run_cli("target", "capture")
    assert res.exit_code == 0
    assert res.stdout.startswith("# kbundle target captured")
    assert 'name = "captured"' in res.stdout


def test_pex_complete_platform(kbundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pex = tmp_path / "kaggle.json"
    pex.write_text(
        json.dumps(
            {
                "marker_environment": {
                    "python_full_version": "3.10.14",
                    "python_version": "3.10",
                    "platform_machine": "x86_64",
                    "sys_platform": "linux",
                },
                "compatible_tags": [
                    "cp310-cp310-manylinux_2_31_x86_64",
                    "cp310-cp310-manylinux_2_17_x86_64",
                    "cp310-abi3-manylinux_2_31_x86_64",
                    "py3-none-any",
                ],
            }
        )
    )
    res = kbundle("target", "show", str(pex), "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["glibc"] == "2.31"
    assert doc["platform_tags"][0] == "cp310-cp310-manylinux_2_31_x86_64"
    assert doc["python_full_version"] == "3.10.14"
    assert doc["name"] == "kaggle"


def test_target_from_pyproject_config(kbundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pyproject.toml").write_text('[tool.kbundle]\ntarget = "kaggle-gpu-2024"\n')
    sub = tmp_path / "src"
    sub.mkdir()
    doc = json.loads(kbundle("target", "show", "--json", cwd=sub).stdout)
    assert doc["name"] == "kaggle-gpu-2024"


# ---- bad input: one clear paragraph, exit 2, no traceback -------------------------
# The parsers' refusals run in-process (the `kbundle` fixture: the same click
# command, no interpreter start-up); test_unknown_preset and
# test_version_and_help run the real console entry point for the exit code and
# the one-paragraph, no-traceback output a user sees.


def _assert_clean_error(res, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("kbundle: error:")
    for needle in needles:
        assert needle in res.stderr, res.stderr


def test_unknown_preset() -> None:
    _assert_clean_error(run_cli("target", "show", "kaggle-tpu"), "kaggle-tpu", "kaggle-t4")


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ("python_full_version = ", ["bad.toml", "not valid TOML"]),
        ('python_full_version = "3.12.13"\nglibcc = "2.35"\n', ["glibcc", "not a known"]),
        ('python_full_version = "3.12"\n', ["python_full_version", "3.12.13"]),
        ("python_full_version = 312\n", ["python_full_version", "string"]),
        ('python_full_version = "3.12.1"\nglibc = "two"\n', ["'glibc'"]),
        ('python_full_version = "3.12.1"\n[cuda]\nruntime = "twelve"\n', ["cuda.runtime"]),
        ('python_full_version = "3.12.1"\n[cuda]\narchs = ["sm_75"]\n', ["cuda.archs", "7.5"]),
        ('python_full_version = "3.12.1"\nos = "windows"\n', ["'os'", "Linux"]),
        ('python_full_version = "3.12.1"\n[installed]\nnumpy = 2\n', ["numpy"]),
        ('python_full_version = "3.12.1"\nplatform_tags = ["cp312"]\n', ["platform_tags"]),
        ('python_full_version = "3.12.1"\nmanifest = "missing.txt"\n', ["missing.txt"]),
    ],
)
def test_malformed_target_file(
    kbundle: Any, tmp_path: Path, content: str, needles: list[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(content)
    _assert_clean_error(kbundle("target", "show", str(bad)), "bad.toml", *needles)


def test_missing_target_file(kbundle: Any, tmp_path: Path) -> None:
    _assert_clean_error(kbundle("target", "show", str(tmp_path / "nope.toml")), "nope.toml")


def test_malformed_pex_json(kbundle: Any, tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"compatible_tags": []}')
    _assert_clean_error(kbundle("target", "show", str(bad)), "p.json", "marker_environment")


def test_malformed_manifest(kbundle: Any, tmp_path: Path) -> None:
    bad = tmp_path / "freeze.txt"
    bad.write_text("numpy==1.26.4\n\nthis is not a requirement!\n")
    _assert_clean_error(
        kbundle("target", "show", "kaggle-t4", "--manifest", str(bad)), "freeze.txt", ":3"
    )


@pytest.mark.parametrize(
    ("table", "needles"),
    [
        ('tragte = "kaggle-t4"\n', ["tool.kbundle.tragte", "not a known"]),
        ("target = 3\n", ["tool.kbundle.target", "string"]),
        ('requirements = "numpy"\n', ["tool.kbundle.requirements", "list"]),
        ("[tool.kbundle.index-pins]\ntorch = 1\n", ["tool.kbundle.index-pins.torch"]),
    ],
)
def test_malformed_config(kbundle: Any, tmp_path: Path, table: str, needles: list[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.kbundle]\n" + table)
    _assert_clean_error(kbundle("target", "show", cwd=tmp_path), "pyproject.toml", *needles)


def test_capture_with_missing_interpreter(kbundle: Any, tmp_path: Path) -> None:
    _assert_clean_error(
        kbundle("target", "capture", "--python", str(tmp_path / "python9")), "python9"
    )


def test_version_and_help() -> None:
    res = run_cli("--version")
    assert res.exit_code == 0 and "kbundle" in res.stdout
    res = run_cli("--help")
    assert res.exit_code == 0 and "target" in res.stdout and "-v, --verbose" in res.stdout
