"""`kbundle check` from the user's side: libs and locks built by the tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.native import shared_library
from tests.helpers.run import run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# __libc_single_threaded appeared in glibc 2.32: referencing it needs GLIBC_2.32.
# Debian links with --as-needed: NEEDED only lists a library whose symbols are used.
CALLS_CUDART13 = "int cudart13(void);\nint g(void){return cudart13();}\n"
NEEDS_GLIBC_232 = (
    "extern char __libc_single_threaded;\nint f(void){return __libc_single_threaded;}\n"
)


def _dist(
    lib: Path, name: str, version: str, *, requires: tuple[str, ...] = (), tag: str = "py3-none-any"
) -> None:
    info = lib / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n")
    (info / "RECORD").write_text("")


def _check(*args: str) -> tuple[int, dict[str, object], str]:
    res = run_cli("check", *args, "--json")
    assert "Traceback" not in res.stderr
    return res.exit_code, json.loads(res.stdout) if res.stdout else {}, res.stderr


def _kinds(doc: dict[str, object]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for p in doc["problems"]:  # type: ignore[attr-defined]
        out.setdefault(p["kind"], []).append(p)
    return out


def test_native_glibc_and_cuda_major(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    _dist(lib, "fastthing", "1.0", tag="cp310-cp310-manylinux_2_17_x86_64")
    native = lib / "fastthing"
    shared_library(native, "_glibc.so", NEEDS_GLIBC_232)
    cudart13 = shared_library(
        tmp_path / "build",
        "libcudart.so.13",
        "int cudart13(void){return 13;}",
        soname="libcudart.so.13",
    )
    shared_library(native, "_cuda.so", CALLS_CUDART13, link=[cudart13])
    code, doc, stderr = _check("--lib", str(lib), "--target", "kaggle-gpu-2024")
    assert code == 1, stderr
    assert doc["ok"] is False
    kinds = _kinds(doc)
    glibc = kinds["glibc"][0]
    assert glibc["severity"] == "error"
    assert glibc["file"].endswith("_glibc.so")
    assert "GLIBC_2.32" in glibc["detail"] and "2.31" in glibc["detail"]
    cuda = [p for p in kinds["cuda"] if "libcudart.so.13" in p["detail"]]
    assert cuda and cuda[0]["severity"] == "error" and cuda[0]["file"].endswith("_cuda.so")
    assert any("libcudart.so.13" in p["detail"] for p in kinds["needed"])
    for problem in doc["problems"]:  # type: ignore[attr-defined]
        assert set(problem) == {"severity", "kind", "package", "file", "detail", "remedy"}
        assert problem["remedy"]


def test_same_lib_is_fine_on_a_newer_target_with_the_cuda_lib(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    _dist(lib, "fastthing", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    shared_library(lib / "fastthing", "_glibc.so", NEEDS_GLIBC_232)
    runtime = lib / "nvidia" / "cuda_runtime" / "lib"
    cudart13 = shared_library(
        runtime, "libcudart.so.13", "int cudart13(void){return 13;}", soname="libcudart.so.13"
    )
    shared_library(lib / "fastthing", "_cuda.so", CALLS_CUDART13, link=[cudart13])
    code, doc, stderr = _check("--lib", str(lib), "--target", "kaggle-t4")
    assert code == 0, (stderr, doc)
    assert doc == {"ok": True, "problems": []}


def test_requirements_preloaded_and_tags(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    _dist(lib, "torch", "2.4.0", tag="cp310-cp310-manylinux1_x86_64")
    _dist(
        lib, "agent", "1.0", requires=("numpy>=2", "missing-dep", 'tomli; python_version < "3.11"')
    )
    _dist(lib, "wrongtag", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    manifest = tmp_path / "freeze.txt"
    manifest.write_text(
        "numpy==1.26.4\ntorch==2.1.2\ntorchvision==0.16.2\ntomli==2.0.1\ntransformers==4.41.2\n"
    )
    code, doc, _ = _check(
        "--lib", str(lib), "--target", "kaggle-gpu-2024", "--manifest", str(manifest)
    )
    assert code == 1
    kinds = _kinds(doc)
    assert [p["package"] for p in kinds["preloaded"]] == ["torch"]
    details = " ".join(p["detail"] for p in kinds["requirement"])
    assert "numpy>=2" in details and "1.26.4" in details
    assert "missing-dep" in details
    assert "tomli" not in details  # the image has it, and the marker is true on 3.10
    assert [p["package"] for p in kinds["tag"]] == ["wrongtag"]


def test_drift_between_lock_and_changed_manifest(tmp_path: Path) -> None:
    """Lock against one manifest, check against a changed one: drift, exit 1."""
    wheels = tmp_path / "wheels"
    from tests.helpers.wheels import build_wheel

    build_wheel(wheels, "app", "1.0", requires=["numpy>=1.20", "jinja2"])
    old = tmp_path / "old.txt"
    old.write_text("numpy==1.26.4\njinja2==3.1.4\nmarkupsafe==2.1.5\n")
    lock = tmp_path / "pylock.toml"
    res = run_cli(
        "lock",
        "app",
        "--target",
        "kaggle-t4",
        "--manifest",
        str(old),
        "--index-url",
        (tmp_path / "empty").as_uri(),
        "-f",
        str(wheels),
        "-o",
        str(lock),
    )
    assert res.exit_code == 0, res.stderr
    assert tomllib.loads(lock.read_text())["tool"]["kbundle"]["image"] == {
        "jinja2": "3.1.4",
        "numpy": "1.26.4",
    }
    same, doc, _ = _check("--lock", str(lock), "--manifest", str(old))
    assert same == 0, doc
    new = tmp_path / "new.txt"
    new.write_text("numpy==2.0.2\nmarkupsafe==2.1.5\n")
    code, doc, stderr = _check("--lock", str(lock), "--manifest", str(new))
    assert code == 1
    drift = {p["package"]: p for p in _kinds(doc)["drift"]}
    assert set(drift) == {"numpy", "jinja2"}
    assert "2.0.2" in drift["numpy"]["detail"]
    assert "kbundle lock --manifest" in drift["numpy"]["remedy"]
    assert "check FAILED" in stderr


def test_manifest_by_url(tmp_path: Path) -> None:
    """A manifest URL (e.g. the image's published package list) is fetched and checked."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    lock = tmp_path / "pylock.toml"
    res = run_cli(
        "lock",
        "jinja2",
        "--target",
        "kaggle-t4",
        "-o",
        str(lock),
        "--index-url",
        (tmp_path / "none").as_uri(),
    )
    assert res.exit_code == 0, res.stderr  # jinja2 3.1.6 comes from the image
    served = tmp_path / "srv"
    served.mkdir()
    (served / "freeze.txt").write_text("jinja2==3.1.2\nmarkupsafe==2.1.5\n")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/freeze.txt"
        code, doc, stderr = _check("--lock", str(lock), "--manifest", url)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1, stderr
    (drift,) = _kinds(doc)["drift"]
    assert drift["package"] == "jinja2"
    assert url in drift["detail"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--lib", "/nonexistent/lib"], "/nonexistent/lib"),
        (["--lock", "/nonexistent/pylock.toml"], "pylock.toml"),
        (["--manifest", "/nonexistent/freeze.txt", "--lib", "."], "freeze.txt"),
    ],
)
def test_bad_input_exit_2(kbundle: Any, args: list[str], needle: str) -> None:
    res = kbundle("check", *args)
    assert res.exit_code == 2, res.stderr
    assert needle in res.stderr
    assert "Traceback" not in res.stderr


def test_bad_input_is_one_paragraph_from_the_real_command() -> None:
    res = run_cli("check", "--lib", "/nonexistent/lib")
    assert res.exit_code == 2, res.stderr
    assert res.stderr.startswith("kbundle: error:") and "/nonexistent/lib" in res.stderr
    assert "Traceback" not in res.stderr


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    _dist(lib, "cxx", "1.0")
    # A C++ library needing a libstdc++ newer than Ubuntu 20.04's (GCC 10).
    # Floating-point std::to_chars lives in libstdc++ at GLIBCXX_3.4.29 (GCC 11).
    shared_library(
        lib / "cxx",
        "_cxx.so",
        "#include <charconv>\nint f(char* b, char* e, float x)"
        "{ return (int)(std::to_chars(b, e, x, std::chars_format::fixed).ptr - b); }\n",
        cplusplus=True,
        extra=["-std=c++17"],
    )
    code, doc, _ = _check("--lib", str(lib), "--target", "kaggle-gpu-2024")
    kinds = _kinds(doc)
    if "glibcxx" not in kinds:
        pytest.skip("this compiler's libstdc++ is not newer than the target's")
    assert code == 0
    strict = run_cli("check", "--lib", str(lib), "--target", "kaggle-gpu-2024", "--strict")
    assert strict.exit_code == 1


def test_per_cuda_variant_libraries_only_the_loaded_one_counts(tmp_path: Path) -> None:
    """bitsandbytes-style libraries: only the variant the target's torch loads is checked."""
    lib = tmp_path / "lib"
    _dist(lib, "bnb", "1.0", tag="py3-none-manylinux_2_24_x86_64")
    build = tmp_path / "build"
    runtimes = {
        "11": shared_library(
            build, "libcudart.so.11.0", "int cudart11(void){return 11;}", soname="libcudart.so.11.0"
        ),
        "12": shared_library(
            build, "libcudart.so.12", "int cudart12(void){return 12;}", soname="libcudart.so.12"
        ),
    }
    shared_library(
        lib / "bnb",
        "libbnb_cuda118.so",
        "int cudart11(void);\nint f(void){return cudart11();}\n",
        link=[runtimes["11"]],
    )
    shared_library(
        lib / "bnb",
        "libbnb_cuda128.so",
        "int cudart12(void);\nint f(void){return cudart12();}\n",
        link=[runtimes["12"]],
    )
    code, doc, stderr = _check("--lib", str(lib), "--target", "kaggle-t4")
    assert code == 0, (stderr, doc)  # torch 2.10.0+cu128 loads the cuda128 one
    code, doc, _ = _check("--lib", str(lib), "--target", "kaggle-gpu-2024")
    assert code == 1  # torch 2.1.2 on CUDA 12.1 wants cuda121, which is not there
    (problem,) = _kinds(doc)["cuda-variant"]
    assert "12.1" in problem["detail"] and "11.8, 12.8" in problem["detail"]
    assert "needed" not in _kinds(doc)  # the cuda118 build is never loaded: not checked
