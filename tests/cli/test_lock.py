"""`kbundle lock` from the user's side, against a loopback index the tests build."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.index_server import IndexServer
from tests.helpers.run import run_cli
from tests.helpers.wheels import build_sdist, build_wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from packaging.pylock import Pylock

IMAGE_310 = """\
format = 1
name = "img310"
description = "a test image"
python_full_version = "3.10.13"
glibc = "2.31"
[cuda]
runtime = "12.1"
driver_max = "12.2"
archs = ["7.5"]
[installed]
numpy = "2.0.2"
jinja2 = "3.1.6"
markupsafe = "2.1.5"
"""


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "index" / "simple"
    build_wheel(simple, "app", "1.0", requires=["numpy>=1.20", "jinja2>=3", "diskcache"])
    build_wheel(simple, "diskcache", "5.6.3")
    for version in ("1.26.4", "2.0.2", "2.1.0"):
        build_wheel(simple, "numpy", version, requires_python=">=3.9")
    build_wheel(simple, "jinja2", "3.1.6", requires=["markupsafe>=2.0"])
    build_wheel(simple, "markupsafe", "2.1.5")
    build_wheel(simple, "tomli", "2.0.1")
    build_wheel(simple, "needs-tomli", "1.0", requires=['tomli>=1.1; python_version < "3.11"'])
    build_wheel(simple, "newer", "1.0", requires=["numpy>=2.1"])
    build_sdist(
        simple,
        "llama-cpp-python",
        "0.3.16",
        pyproject=(
            '[project]\nname = "llama_cpp_python"\nversion = "0.3.16"\n'
            'dependencies = ["numpy>=1.20.0", "diskcache>=5.6.1", "jinja2>=2.11.3"]\n'
        ),
    )
    # A PyTorch-like index per CUDA variant, and a llama.cpp-like CUDA wheel index.
    for cu in ("cu118", "cu121", "cu124"):
        whl = tmp_path / "index" / "whl" / cu
        build_wheel(whl, "torch", f"2.5.1+{cu}", tag="cp310-cp310-linux_x86_64")
        build_wheel(whl, "torch", "2.5.1+cpu", tag="cp310-cp310-linux_x86_64")
        build_wheel(
            whl,
            "llama-cpp-python",
            "0.3.16",
            tag="cp310-cp310-linux_x86_64",
            requires=["numpy>=1.20.0", "diskcache>=5.6.1"],
            files={f"llama_cpp/{cu}.py": b"", "llama_cpp/__init__.py": b""},
        )
    roots = {"simple": simple}
    roots.update(
        {f"whl/{cu}": tmp_path / "index" / "whl" / cu for cu in ("cu118", "cu121", "cu124")}
    )
    with IndexServer(roots) as server:
        yield server


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "img310.toml"
    path.write_text(IMAGE_310)
    return path


def _lock(index: IndexServer, image: Path, *args: str, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    return run_cli("lock", "--target", str(image), "-i", index.index_url(), *args, cwd=cwd)


def test_lock_reuses_the_image_and_writes_pep751(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pylock.toml"
    res = _lock(index, image, "app", "-o", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    sources = {p["name"]: (p["version"], p["source"]) for p in doc["packages"]}
    assert sources == {
        "app": ("1.0", "vendor"),
        "diskcache": ("5.6.3", "vendor"),
        "numpy": ("2.0.2", "image"),
        "jinja2": ("3.1.6", "image"),
    }
    assert doc["target"] == "img310"
    assert doc["lock"] == str(out)
    assert doc["vendor_bytes"] == sum(p["size"] for p in doc["packages"] if p["size"])
    vendored = [p for p in doc["packages"] if p["source"] == "vendor"]
    assert all(p["sha256"] and p["url"].startswith(index.url) for p in vendored)
    assert {p["url"] for p in doc["packages"] if p["source"] == "image"} == {None}
    lock = Pylock.from_dict(tomllib.loads(out.read_text()))
    assert sorted(p.name for p in lock.packages) == ["app", "diskcache"]
    data = tomllib.loads(out.read_text())
    assert data["tool"]["kbundle"]["image"] == {"jinja2": "3.1.6", "numpy": "2.0.2"}
    assert "image" in res.stderr and "to vendor" in res.stderr  # the human report


def test_lock_is_deterministic_and_second_run_uses_the_cache(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pylock.toml"
    assert _lock(index, image, "app", "-o", str(out)).exit_code == 0
    first = out.read_bytes()
    before = len(index.log)
    assert _lock(index, image, "app", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == first
    second = [r.path for r in index.log[before:]]
    assert not [p for p in second if "/files/" in p], second  # metadata came from the cache
    # Offline works from the warm cache and gives the same lock.
    offline = tmp_path / "offline.toml"
    assert _lock(index, image, "app", "-o", str(offline), "--offline").exit_code == 0
    assert offline.read_bytes() == first


def test_offline_cold_cache_is_a_clear_error(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    res = _lock(index, image, "app", "-o", str(tmp_path / "x.toml"), "--offline")
    assert res.exit_code == 1
    assert "Traceback" not in res.stderr
    assert "--offline" in res.stderr
    assert not (tmp_path / "x.toml").exists()


def test_markers_are_evaluated_for_the_target(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    # The host runs Python >= 3.11; the target is 3.10, so tomli is needed there.
    res = _lock(index, image, "needs-tomli", "-o", str(tmp_path / "l.toml"), "--json")
    assert res.exit_code == 0, res.stderr
    names = {p["name"] for p in json.loads(res.stdout)["packages"]}
    assert names == {"needs-tomli", "tomli"}


def test_shadowing_a_newer_numpy(index: IndexServer, image: Path, tmp_path: Path) -> None:
    out = tmp_path / "l.toml"
    res = _lock(index, image, "newer", "-o", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert {p["name"]: p["source"] for p in doc["packages"]}["numpy"] == "vendor"
    assert tomllib.loads(out.read_text())["tool"]["kbundle"]["shadowed"] == {"numpy": "2.0.2"}
    assert "shadows image 2.0.2" in res.stderr


def test_cuda_index_template_and_pins(index: IndexServer, image: Path, tmp_path: Path) -> None:
    """'{cuda}' follows the target (cu121 here) and a pinned package uses only its index."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[tool.kbundle]\n"
        f'target = "{image}"\n'
        f'index-url = "{index.index_url()}"\n'
        "[tool.kbundle.index-pins]\n"
        f'llama-cpp-python = "{index.url}whl/{{cuda}}"\n'
        f'torch = "{index.url}whl/{{cuda}}"\n'
    )
    res = run_cli("lock", "llama-cpp-python", "torch==2.5.1", "--json", cwd=project)
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    by_name = {p["name"]: p for p in doc["packages"]}
    assert by_name["llama-cpp-python"]["source"] == "vendor"
    assert "/whl/cu121/" in by_name["llama-cpp-python"]["url"]
    assert by_name["llama-cpp-python"]["url"].endswith("-cp310-cp310-linux_x86_64.whl")
    assert by_name["torch"]["version"] == "2.5.1+cu121"
    assert doc["lock"] == str(project / "lockfiles" / "pylock.img310.toml")
    assert (project / "lockfiles" / "pylock.img310.toml").is_file()


def test_source_only_needs_build_permission(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    res = _lock(index, image, "llama-cpp-python", "-o", str(tmp_path / "l.toml"))
    assert res.exit_code == 1
    assert "--build llama-cpp-python" in res.stderr
    assert "source" in res.stderr
    res = _lock(
        index,
        image,
        "llama-cpp-python",
        "-o",
        str(tmp_path / "l.toml"),
        "--build",
        "llama-cpp-python",
        "--json",
    )
    assert res.exit_code == 0, res.stderr
    by_name = {p["name"]: p["source"] for p in json.loads(res.stdout)["packages"]}
    assert by_name == {
        "llama-cpp-python": "build",
        "numpy": "image",
        "diskcache": "vendor",
        "jinja2": "image",
    }


def test_relock_keeps_pins_until_upgrade(index: IndexServer, image: Path, tmp_path: Path) -> None:
    out = tmp_path / "l.toml"
    assert _lock(index, image, "newer", "-o", str(out)).exit_code == 0
    build_wheel(Path(index.indexes["simple"]), "numpy", "2.2.0", requires_python=">=3.9")

    def numpy_version(*extra: str) -> str:
        res = _lock(index, image, "newer", "-o", str(out), "--refresh", "--json", *extra)
        assert res.exit_code == 0, res.stderr
        return {p["name"]: p["version"] for p in json.loads(res.stdout)["packages"]}["numpy"]

    assert numpy_version() == "2.1.0"
    assert numpy_version("-P", "numpy") == "2.2.0"
    out.unlink()
    assert numpy_version() == "2.2.0"


def test_requirements_file_constraints_and_export(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    reqs = tmp_path / "requirements.in"
    reqs.write_text("# the agent\napp \\\n  >=1.0\n-c constraints.txt\n")
    (tmp_path / "constraints.txt").write_text("numpy<2\n")
    export = tmp_path / "requirements.txt"
    res = _lock(
        index,
        image,
        "-r",
        str(reqs),
        "-o",
        str(tmp_path / "l.toml"),
        "--export-requirements",
        str(export),
        "--json",
    )
    assert res.exit_code == 0, res.stderr
    by_name = {p["name"]: (p["version"], p["source"]) for p in json.loads(res.stdout)["packages"]}
    assert by_name["numpy"] == ("1.26.4", "vendor")  # the image's 2.0.2 breaks the constraint
    text = export.read_text()
    assert "numpy==1.26.4 \\\n    --hash=sha256:" in text
    assert "app==1.0" in text
    assert "jinja2==3.1.6" in text and "provided by the image" in text


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["app>>1"], 2, "app>>1"),
        (["-r", "missing.txt"], 2, "missing.txt"),
        (["numpy>=9"], 1, "numpy"),
        ([], 2, "nothing to lock"),
    ],
)
def test_bad_input(
    kbundle: Any,
    index: IndexServer,
    image: Path,
    tmp_path: Path,
    args: list[str],
    code: int,
    needle: str,
) -> None:
    # In-process: the refusals are the parsers' and the resolver's; the real
    # console entry point is exercised by test_bad_requirements_file_names_the_line.
    common = ("--target", str(image), "-i", index.index_url())
    res = kbundle("lock", *common, *args, "-o", str(tmp_path / "l.toml"), cwd=tmp_path)
    assert res.exit_code == code, res.stderr
    assert "Traceback" not in res.stderr
    assert needle in res.stderr
    assert not (tmp_path / "l.toml").exists()


def test_bad_requirements_file_names_the_line(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    reqs = tmp_path / "req.txt"
    reqs.write_text("app\n\nnot a valid requirement!!\n")
    res = _lock(index, image, "-r", str(reqs), "-o", str(tmp_path / "l.toml"))
    assert res.exit_code == 2
    assert "req.txt:3" in res.stderr


@pytest.mark.network
def test_real_pypi_llama_cpp_python_for_kaggle_t4(tmp_path: Path) -> None:
    out = tmp_path / "X.toml"
    res = run_cli(
        "lock",
        "llama-cpp-python",
        "--target",
        "kaggle-t4",
        "--build",
        "llama-cpp-python",
        "-o",
        str(out),
        "--json",
        env={"PIP_INDEX_URL": ""},
    )
    assert res.exit_code == 0, res.stderr
    by_name = {p["name"]: p["source"] for p in json.loads(res.stdout)["packages"]}
    assert by_name["numpy"] == "image"
    assert by_name["jinja2"] == "image"
    assert by_name["typing-extensions"] == "image"
    assert by_name["llama-cpp-python"] == "build"
    assert by_name["diskcache"] == "vendor"
    Pylock.from_dict(tomllib.loads(out.read_text()))


@pytest.mark.network
def test_real_pypi_preloaded_torch_conflict(tmp_path: Path) -> None:
    res = run_cli(
        "lock", "torch==2.4.0", "--target", "kaggle-gpu-2024", "-o", str(tmp_path / "l.toml")
    )
    assert res.exit_code == 1
    assert "torch" in res.stderr
    assert "2.1.2" in res.stderr
    assert "preloaded" in res.stderr


def test_dynamic_sdist_metadata_comes_from_its_backend_only_when_allowed(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    simple = Path(index.indexes["simple"])
    build_sdist(
        simple,
        "dynpkg",
        "1.0",
        pyproject=(
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n'
            '[project]\nname = "dynpkg"\nversion = "1.0"\ndynamic = ["dependencies"]\n'
        ),
        extra_files={
            "setup.py": b"from setuptools import setup\nsetup(install_requires=['diskcache'])\n"
        },
    )
    out = tmp_path / "l.toml"
    refused = _lock(index, image, "dynpkg", "-o", str(out))
    assert refused.exit_code == 1
    assert "--build dynpkg" in refused.stderr
    res = _lock(index, image, "dynpkg", "--build", "dynpkg", "-o", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    by_name = {p["name"]: p["source"] for p in json.loads(res.stdout)["packages"]}
    assert by_name == {"dynpkg": "build", "diskcache": "vendor"}


def test_cuda_variant_index_falls_back_to_the_closest_runnable_build(
    index: IndexServer, tmp_path: Path
) -> None:
    """Runtime 12.8, driver 13.0; the index only has cu118/cu121/cu124: cu124 wins."""
    target = tmp_path / "t4.toml"
    target.write_text(
        IMAGE_310.replace('runtime = "12.1"', 'runtime = "12.8"').replace(
            'driver_max = "12.2"', 'driver_max = "13.0"'
        )
    )
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[tool.kbundle]\n"
        f'target = "{target}"\n'
        f'index-url = "{index.index_url()}"\n'
        "[tool.kbundle.index-pins]\n"
        f'llama-cpp-python = "{index.url}whl/{{cuda}}"\n'
    )
    res = run_cli("lock", "llama-cpp-python", "--json", cwd=project)
    assert res.exit_code == 0, res.stderr
    by_name = {p["name"]: p for p in json.loads(res.stdout)["packages"]}
    assert "/whl/cu124/" in by_name["llama-cpp-python"]["url"]


def test_unknown_cuda_index_is_bad_input(index: IndexServer, image: Path, tmp_path: Path) -> None:
    res = _lock(index, image, "app", "--cuda-index", "tensorflow", "-o", str(tmp_path / "l.toml"))
    assert res.exit_code == 2
    assert "tensorflow" in res.stderr and "llama-cpp-python" in res.stderr


def test_cuda_index_pins_known_projects() -> None:
    from bundler.request.assemble import cuda_index_pins

    pins = cuda_index_pins(["llama_cpp_python", "torch"])
    assert pins["llama-cpp-python"].endswith("/whl/{cuda}")
    assert pins["torch"].endswith("/whl/{cuda}")
