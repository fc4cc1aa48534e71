"""Rich images from the user's side: which image packages follow a shadowed one.

A loopback index and a captured-style target whose packages record their
requirements: an LLM runtime that wants an older torch and a newer hub than the
image has. ``lock`` must vendor the closure and the ABI-coupled packages only,
warn about the rest, honour --keep / --strict-image (and their config keys),
say what shadowing torch costs; ``check`` must apply the same rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index_server import IndexServer
from tests.helpers.run import run_cli
from tests.helpers.wheels import build_wheel

IMAGE = """\
format = 1
name = "richimg"
python_full_version = "3.12.13"
glibc = "2.35"
[installed.torch]
version = "2.10.0"
requires = ["typing-extensions>=4.8"]
[installed.torchvision]
version = "0.25.0"
requires = ["torch==2.10.0"]
[installed.typing-extensions]
version = "4.15.0"
requires = []
[installed.huggingface-hub]
version = "1.11.0"
requires = []
[installed.transformers]
version = "5.0.0"
requires = ["huggingface-hub<2,>=1.3"]
[installed.gradio]
version = "5.50.0"
requires = ["huggingface-hub<2"]
[installed.fastai]
version = "2.8.0"
requires = ["torch>=2.10"]
"""


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "index" / "simple"
    build_wheel(simple, "llmrt", "1.0", requires=["torch==2.10.0", "transformers>=5"])
    build_wheel(
        simple,
        "llmrt",
        "2.0",
        requires=["torch==2.9.0", "transformers>=5", "huggingface-hub>=2"],
    )
    for version in ("2.9.0", "2.10.0"):
        build_wheel(simple, "torch", version, requires=["typing-extensions>=4.8"])
    build_wheel(simple, "torchvision", "0.24.0", requires=["torch==2.9.0"])
    build_wheel(simple, "torchvision", "0.25.0", requires=["torch==2.10.0"])
    build_wheel(simple, "typing-extensions", "4.15.0")
    for version in ("1.11.0", "2.4.0"):
        build_wheel(simple, "huggingface-hub", version)
    build_wheel(simple, "transformers", "5.0.0", requires=["huggingface-hub<2,>=1.3"])
    build_wheel(simple, "transformers", "5.20.0", requires=["huggingface-hub>=2"])
    build_wheel(simple, "gradio", "5.50.0", requires=["huggingface-hub<2"])
    build_wheel(simple, "gradio", "6.0.0", requires=["huggingface-hub>=2"])
    build_wheel(simple, "fastai", "2.8.0", requires=["torch>=2.10"])
    build_wheel(simple, "fastai", "2.9.0", requires=["torch>=2.9"])
    with IndexServer({"simple": simple}) as server:
        yield server


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "richimg.toml"
    path.write_text(IMAGE)
    return path


def _lock(index: IndexServer, image: Path, tmp_path: Path, *args: str, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    out = tmp_path / "pylock.toml"
    out.unlink(missing_ok=True)
    res = run_cli(
        "lock", "--target", str(image), "-i", index.index_url(), "-o", str(out), "--json", *args,
        cwd=cwd,
    )  # fmt: skip
    assert "Traceback" not in res.stderr
    return res


def _vendored(doc: dict[str, object]) -> dict[str, str]:
    return {p["name"]: p["version"] for p in doc["packages"] if p["source"] != "image"}  # type: ignore[attr-defined, index]


def test_followers_are_the_closure_and_the_abi_coupled_others_are_warnings(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    res = _lock(index, image, tmp_path, "llmrt")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    # Nothing at the image's own version, nothing outside the scope.
    assert _vendored(doc) == {
        "llmrt": "2.0",
        "torch": "2.9.0",
        "torchvision": "0.24.0",
        "huggingface-hub": "2.4.0",
        "transformers": "5.20.0",
    }
    warnings = " | ".join(doc["warnings"])
    assert "the image's gradio 5.50.0 requires huggingface-hub<2" in warnings
    assert "do not import gradio with this lib" in warnings
    assert "the image's fastai 2.8.0 requires torch>=2.10" in warnings
    assert len(doc["warnings"]) == 2
    notes = " | ".join(doc["notes"])
    assert "torchvision follows (it is ABI-coupled to torch): vendored at 0.24.0" in notes
    assert "transformers follows (the requirements reach it): vendored at 5.20.0" in notes
    # Shadowing torch is large: its cost and the version that keeps the image's torch.
    [shadow] = doc["shadows"]
    assert shadow["name"] == "torch" and shadow["image_version"] == "2.10.0"
    assert shadow["requested_by"] == ["llmrt"] and shadow["bytes"] > 0
    alternative = shadow["alternative"]
    assert alternative["version"] == "1.0"
    assert alternative["command"] == f"kbundle lock llmrt --target {image} --keep torch"
    report = " ".join(res.stderr.split())  # the terminal report wraps long lines
    assert "warning: the image's gradio" in report
    assert "llmrt 1.0 works with the image's torch" in report
    assert f"`kbundle lock llmrt --target {image} --keep torch`" in report


def test_shadow_cost_says_when_no_version_works_with_the_image_copy(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    res = _lock(index, image, tmp_path, "llmrt==2.0")
    assert res.exit_code == 0, res.stderr
    [shadow] = json.loads(res.stdout)["shadows"]
    assert shadow["alternative"]["version"] is None
    assert "kept with --keep torch" in shadow["alternative"]["reason"]
    assert "no llmrt works with the image's torch" in " ".join(res.stderr.split())


def test_unrecorded_image_requirements_are_fetched_only_in_scope(
    index: IndexServer, tmp_path: Path
) -> None:
    # The same image as a bare package list: nothing recorded about requirements.
    bare = tmp_path / "bare.toml"
    bare.write_text(
        'format = 1\nname = "bare"\npython_full_version = "3.12.13"\nglibc = "2.35"\n'
        "[installed]\n"
        + "".join(
            f'{name} = "{version}"\n'
            for name, version in {
                "torch": "2.10.0",
                "torchvision": "0.25.0",
                "typing-extensions": "4.15.0",
                "huggingface-hub": "1.11.0",
                "transformers": "5.0.0",
                "gradio": "5.50.0",
                "fastai": "2.8.0",
            }.items()
        )
    )
    res = _lock(index, bare, tmp_path, "llmrt")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    # In scope: transformers (reached) and torchvision (native on torch) follow.
    assert _vendored(doc) == {
        "llmrt": "2.0",
        "torch": "2.9.0",
        "torchvision": "0.24.0",
        "huggingface-hub": "2.4.0",
        "transformers": "5.20.0",
    }
    # Out of scope and unrecorded: never looked up (so no warning can name them).
    assert not index.requests("/gradio/") and not index.requests("/fastai/")
    assert not index.requests("gradio-") and not index.requests("fastai-")


def test_strict_image_vendors_every_broken_image_package(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    res = _lock(index, image, tmp_path, "llmrt", "--strict-image")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert _vendored(doc) == {
        "llmrt": "2.0",
        "torch": "2.9.0",
        "torchvision": "0.24.0",
        "huggingface-hub": "2.4.0",
        "transformers": "5.20.0",
        "gradio": "6.0.0",
        "fastai": "2.9.0",
    }
    assert doc["warnings"] == []
    assert "strict-image = true" in (tmp_path / "pylock.toml").read_text()


def test_keep_torch_finds_the_version_that_uses_the_image_torch(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    res = _lock(index, image, tmp_path, "llmrt", "--keep", "torch")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert _vendored(doc) == {"llmrt": "1.0"}
    assert doc["shadows"] == []
    # The held-back warning names the kept torch as what rules out llmrt 2.0.
    [warning] = doc["warnings"]
    assert "llmrt" in warning and "2.0" in warning and "--keep" in warning, warning


def test_keep_that_nothing_fits_says_so(index: IndexServer, image: Path, tmp_path: Path) -> None:
    res = _lock(index, image, tmp_path, "llmrt==2.0", "--keep", "torch")
    assert res.exit_code == 1
    assert "kept with --keep torch" in res.stderr


def test_keep_of_a_package_the_image_lacks_is_bad_input(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    res = _lock(index, image, tmp_path, "llmrt", "--keep", "no-such-thing")
    assert res.exit_code == 2
    assert "--keep no-such-thing" in res.stderr and "has no no-such-thing" in res.stderr


def test_config_keep_and_strict_image(index: IndexServer, image: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.kbundle]\nkeep = ["torch"]\n')
    res = _lock(index, image, tmp_path, "llmrt", cwd=project)
    assert res.exit_code == 0, res.stderr
    assert _vendored(json.loads(res.stdout)) == {"llmrt": "1.0"}
    (project / "pyproject.toml").write_text("[tool.kbundle]\nstrict-image = true\n")
    res = _lock(index, image, tmp_path, "llmrt", cwd=project)
    assert res.exit_code == 0, res.stderr
    assert "gradio" in _vendored(json.loads(res.stdout))


def _dist(lib: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    info = lib / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    (info / "RECORD").write_text("")


def test_check_applies_the_same_scope(image: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    _dist(lib, "app", "1.0", ("transformers>=5", "huggingface-hub>=2"))
    _dist(lib, "huggingface-hub", "2.4.0")
    res = run_cli("check", "--lib", str(lib), "--target", str(image), "--json")
    assert "Traceback" not in res.stderr
    problems = json.loads(res.stdout)["problems"]
    found = {(p["severity"], p["package"]) for p in problems if p["kind"] == "requirement"}
    # transformers is what the app imports: an error; gradio is out of scope: a warning.
    assert found == {("error", "transformers"), ("warning", "gradio")}
    assert res.exit_code == 1


def test_check_follows_the_strict_rule_recorded_in_the_lock(
    index: IndexServer, image: Path, tmp_path: Path
) -> None:
    res = _lock(index, image, tmp_path, "huggingface-hub>=2", "--strict-image")
    assert res.exit_code == 0, res.stderr
    lib = tmp_path / "lib"
    _dist(lib, "huggingface-hub", "2.4.0")  # gradio's copy from the lock is missing
    res = run_cli(
        "check", "--lock", str(tmp_path / "pylock.toml"), "--lib", str(lib),
        "--target", str(image), "--json",
    )  # fmt: skip
    problems = json.loads(res.stdout)["problems"]
    found = {(p["severity"], p["package"]) for p in problems if p["kind"] == "requirement"}
    assert ("error", "gradio") in found and ("error", "transformers") in found
