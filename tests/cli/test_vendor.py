"""`kbundle vendor` from the user's side: a loopback index, an image venv, real installs."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from tests.helpers.image import capture, image_venv
from tests.helpers.index_server import IndexServer
from tests.helpers.interrupt import kill_mid_unpack
from tests.helpers.run import REPO, Result, run_cli
from tests.helpers.wheels import build_sdist, build_wheel


def _in_image(python: Path, lib: Path, code: str) -> dict[str, object]:
    """Run ``code`` in the image venv with the lib activated, with no network if we can."""
    script = f"import sys, json\nsys.path.insert(0, {str(lib)!r})\nimport kbundle_boot\n"
    script += textwrap.dedent(code)
    prefix = ["unshare", "-n"] if shutil.which("unshare") and os.geteuid() == 0 else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(
        [*prefix, str(python), "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def index(app_index: IndexServer) -> IndexServer:
    return app_index


def _vendor(index: IndexServer, target: Path, lib: Path, *args: str) -> Result:
    """``kbundle vendor ARGS`` for ``target`` from the loopback index, lock beside lib."""
    return run_cli(
        "vendor",
        "--target",
        str(target),
        "-i",
        index.index_url(),
        "-t",
        str(lib),
        "--lock",
        str(lib.parent / "pylock.toml"),
        *args,
    )


def test_vendor_and_import_in_the_image_offline(index: IndexServer, tmp_path: Path) -> None:
    python = image_venv(tmp_path, {"numpy": "2.0.2"})
    target = capture(python, tmp_path / "image.toml")
    lib = tmp_path / "submission" / "lib"
    res = run_cli(
        "vendor",
        "app",
        "--target",
        str(target),
        "-i",
        index.index_url(),
        "-t",
        str(lib),
        "--lock",
        str(tmp_path / "pylock.toml"),
        "--json",
    )
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc) == {"lib", "seconds", "bytes", "packages"}
    assert doc["lib"] == str(lib)
    assert {p["name"]: p["source"] for p in doc["packages"]} == {
        "app": "vendor",
        "helper": "vendor",
    }
    assert doc["bytes"] == sum(p["bytes"] for p in doc["packages"])
    assert not (lib / "numpy.py").exists()  # the image's copy is not vendored again
    assert "import kbundle_boot" in res.stderr  # the snippet for main.py is printed
    record = json.loads((lib / "kbundle.json").read_text())
    assert record["image"] == {"numpy": "2.0.2"}
    assert (lib / "app-1.0.dist-info" / "INSTALLER").read_text().strip() == "kbundle"
    got = _in_image(
        python,
        lib,
        """
        import app, numpy
        print(json.dumps({"value": app.VALUE, "app": app.__file__, "numpy": numpy.SOURCE,
                          "first": sys.path[0]}))
    """,
    )
    assert got["value"] == 42
    assert str(got["app"]).startswith(str(lib))
    assert got["numpy"] == "image"
    assert got["first"] == str(lib)


def test_image_without_the_dependency_gets_it_vendored(index: IndexServer, tmp_path: Path) -> None:
    python = image_venv(tmp_path, {})
    target = capture(python, tmp_path / "image.toml")
    lib = tmp_path / "lib"
    res = _vendor(index, target, lib, "app", "-q")
    assert res.exit_code == 0, res.stderr
    got = _in_image(python, lib, "import numpy\nprint(json.dumps({'numpy': numpy.SOURCE}))")
    assert got["numpy"] == "lib"


def test_second_vendor_is_offline_and_does_not_rebuild(index: IndexServer, tmp_path: Path) -> None:
    """A tiny C extension sdist is built for the host; the second run reuses everything."""
    simple = Path(index.indexes["simple"])
    build_sdist(
        simple,
        "cext",
        "1.0",
        pyproject=textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "cext"
        version = "1.0"
        dependencies = []
    """),
        extra_files={
            "setup.py": b"from setuptools import setup, Extension\n"
            b"setup(ext_modules=[Extension('cext', ['cext.c'])])\n",
            "cext.c": textwrap.dedent("""\
            #include <Python.h>
            static PyObject* answer(PyObject* s, PyObject* a) { return PyLong_FromLong(42); }
            static PyMethodDef m[] = {{"answer", answer, METH_NOARGS, ""}, {0}};
            static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "cext", 0, -1, m};
            PyMODINIT_FUNC PyInit_cext(void) { return PyModule_Create(&d); }
        """).encode(),
        },
    )
    target = capture(Path(sys.executable), tmp_path / "host.toml")
    lib = tmp_path / "lib"
    args = (
        "vendor",
        "cext",
        "helper",
        "--target",
        str(target),
        "-i",
        index.index_url(),
        "-t",
        str(lib),
        "--lock",
        str(tmp_path / "pylock.toml"),
        "--build",
        "cext",
        "--json",
    )
    first = run_cli(*args)
    assert first.exit_code == 0, first.stderr
    assert {p["name"]: p["source"] for p in json.loads(first.stdout)["packages"]} == {
        "cext": "build",
        "helper": "vendor",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(lib)!r}); "
            "import kbundle_boot, cext; print(cext.answer())",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.strip() == "42", proc.stderr
    before = len(index.log)
    builds = sorted((Path(os.environ["KBUNDLE_CACHE_DIR"]) / "builds").rglob("build.log"))
    mtimes = [p.stat().st_mtime_ns for p in builds]
    again = run_cli(
        "vendor",
        "--target",
        str(target),
        "-t",
        str(lib),
        "--lock",
        str(tmp_path / "pylock.toml"),
        "--build",
        "cext",
        "--offline",
        "-q",
    )
    assert again.exit_code == 0, again.stderr
    assert len(index.log) == before  # no network I/O at all
    assert [p.stat().st_mtime_ns for p in builds] == mtimes  # no rebuild
    assert sorted((Path(os.environ["KBUNDLE_CACHE_DIR"]) / "builds").rglob("build.log")) == builds


def test_build_needs_permission_at_vendor_time(index: IndexServer, tmp_path: Path) -> None:
    simple = Path(index.indexes["simple"])
    build_sdist(simple, "srconly", "1.0", metadata_version="2.2")
    target = capture(Path(sys.executable), tmp_path / "host.toml")
    lock = tmp_path / "pylock.toml"
    assert (
        run_cli(
            "lock",
            "srconly",
            "--target",
            str(target),
            "-i",
            index.index_url(),
            "--build",
            "srconly",
            "-o",
            str(lock),
        ).exit_code
        == 0
    )
    before = len(index.log)
    res = run_cli(
        "vendor",
        "--target",
        str(target),
        "-i",
        index.index_url(),
        "-t",
        str(tmp_path / "lib"),
        "--lock",
        str(lock),
    )
    assert res.exit_code == 2
    assert "--build srconly" in res.stderr and "Traceback" not in res.stderr
    assert index.log[before:] == []  # refused before a byte of the sdist was fetched


def test_a_build_for_another_cpu_is_refused_before_any_download(
    index: IndexServer, tmp_path: Path
) -> None:
    simple = Path(index.indexes["simple"])
    build_sdist(simple, "srconly", "1.0", metadata_version="2.2")
    lock, lib = tmp_path / "pylock.toml", tmp_path / "lib"
    common = ("--target", "manylinux_2_28-py312-aarch64", "-i", index.index_url())
    locked = run_cli("lock", "srconly", *common, "--build", "srconly", "-o", str(lock))
    assert locked.exit_code == 0, locked.stderr
    before = len(index.log)

    res = run_cli("vendor", *common, "-t", str(lib), "--lock", str(lock), "--build", "srconly")

    assert res.exit_code == 2, res.stderr
    assert "does not cross-compile" in res.stderr and "aarch64" in res.stderr
    assert "Traceback" not in res.stderr
    assert index.log[before:] == []
    assert not lib.exists()


def test_lock_for_another_target_is_refused(index: IndexServer, tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    assert (
        run_cli(
            "lock", "helper", "--target", "kaggle-t4", "-i", index.index_url(), "-o", str(lock)
        ).exit_code
        == 0
    )
    res = run_cli(
        "vendor", "--target", "kaggle-cpu-2026", "--lock", str(lock), "-t", str(tmp_path / "lib")
    )
    assert res.exit_code == 2
    assert "kaggle-gpu-2026" in res.stderr and "kbundle lock" in res.stderr


def _old_lib(tmp_path: Path, index: IndexServer, target: Path) -> Path:
    lib = tmp_path / "lib"
    res = run_cli(
        "vendor",
        "helper",
        "--target",
        str(target),
        "-i",
        index.index_url(),
        "-t",
        str(lib),
        "--lock",
        str(tmp_path / "old.toml"),
        "-q",
    )
    assert res.exit_code == 0, res.stderr
    return lib


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("case", ["collision", "zip-slip", "hash-mismatch", "bad-record"])
def test_failed_vendor_keeps_the_old_lib(index: IndexServer, tmp_path: Path, case: str) -> None:
    simple = Path(index.indexes["simple"])
    target = capture(Path(sys.executable), tmp_path / "host.toml")
    lib = _old_lib(tmp_path, index, target)
    old = _tree(lib)
    requirements = ["badone"]
    if case == "collision":
        build_wheel(
            simple, "badone", "1.0", requires=["other"], files={"shared/data.py": b"A = 1\n"}
        )
        build_wheel(simple, "other", "1.0", files={"shared/data.py": b"B = 2\n"})
    elif case == "zip-slip":
        wheel = build_wheel(simple, "badone", "1.0")
        with zipfile.ZipFile(wheel, "a") as archive:
            archive.writestr("../../escaped.py", b"print('owned')\n")
    elif case == "bad-record":  # consistently served, so the lock's sha256 matches
        wheel = build_wheel(simple, "badone", "1.0", files={"badone.py": b"GOOD = 1\n"})
        with zipfile.ZipFile(wheel) as archive:
            members = {i.filename: archive.read(i) for i in archive.infolist()}
        members["badone.py"] = b"EVIL = 1\n"
        with zipfile.ZipFile(wheel, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    else:
        build_wheel(simple, "badone", "1.0", files={"badone.py": b"GOOD = 1\n"})
    lock = tmp_path / "new.toml"
    assert (
        run_cli(
            "lock", *requirements, "--target", str(target), "-i", index.index_url(), "-o", str(lock)
        ).exit_code
        == 0
    )
    if case == "hash-mismatch":  # the index now serves other bytes under the locked name
        build_wheel(simple, "badone", "1.0", files={"badone.py": b"EVIL = 1\n"})
    res = run_cli(
        "vendor",
        "--target",
        str(target),
        "--lock",
        str(lock),
        "-t",
        str(lib),
        "-i",
        index.index_url(),
    )
    assert res.exit_code == 1, res.stderr
    assert "Traceback" not in res.stderr
    expected = {
        "collision": [
            "badone-1.0-py3-none-any.whl",
            "other-1.0-py3-none-any.whl",
            "shared/data.py",
        ],
        "zip-slip": ["badone-1.0-py3-none-any.whl", "../../escaped.py"],
        "hash-mismatch": ["sha256", "badone-1.0-py3-none-any.whl"],
        "bad-record": ["badone-1.0-py3-none-any.whl", "'badone.py'", "didn't match RECORD"],
    }[case]
    for needle in expected:
        assert needle in res.stderr, res.stderr
    assert _tree(lib) == old
    assert not (tmp_path / "escaped.py").exists()
    assert not [p for p in lib.parent.iterdir() if "kbundle-" in p.name]  # no leftovers


def test_resume_after_a_dropped_connection(index: IndexServer, tmp_path: Path) -> None:
    simple = Path(index.indexes["simple"])
    payload = random.Random(7).randbytes(3_000_000)
    build_wheel(
        simple, "big", "1.0", files={"big/blob.bin": payload}, compression=zipfile.ZIP_STORED
    )
    target = capture(Path(sys.executable), tmp_path / "host.toml")
    lock = tmp_path / "pylock.toml"
    assert (
        run_cli(
            "lock", "big", "--target", str(target), "-i", index.index_url(), "-o", str(lock)
        ).exit_code
        == 0
    )
    index.fail("big-1.0", "drop")
    res = run_cli(
        "vendor",
        "--target",
        str(target),
        "--lock",
        str(lock),
        "-t",
        str(tmp_path / "lib"),
        "-i",
        index.index_url(),
    )
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "lib" / "big" / "blob.bin").read_bytes() == payload
    ranges = [
        r.headers.get("range") or r.headers.get("Range")
        for r in index.requests("big-1.0-py3-none-any.whl")
    ]
    resumed = [r for r in ranges if r and r.startswith("bytes=") and r != "bytes=0-"]
    assert resumed, ranges


def test_kill_9_leaves_the_old_lib_or_the_new_one(index: IndexServer, tmp_path: Path) -> None:
    simple = Path(index.indexes["simple"])
    for i in range(25):
        build_wheel(
            simple, f"pkg{i}", "1.0", files={f"pkg{i}/m{j}.py": b"X = 1\n" * 50 for j in range(40)}
        )
    target = capture(Path(sys.executable), tmp_path / "host.toml")
    lib = _old_lib(tmp_path, index, target)
    old = _tree(lib)
    lock = tmp_path / "big.toml"
    assert (
        run_cli(
            "lock",
            *[f"pkg{i}" for i in range(25)],
            "--target",
            str(target),
            "-i",
            index.index_url(),
            "-o",
            str(lock),
        ).exit_code
        == 0
    )
    command = [
        sys.executable,
        "-m",
        "bundler",
        "-q",
        "vendor",
        "--target",
        str(target),
        "--lock",
        str(lock),
        "-t",
        str(lib),
        "-i",
        index.index_url(),
    ]
    rng = random.Random(1)
    new: dict[str, bytes] | None = None
    for _ in range(8):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = _tree(lib) if lib.exists() else {}
        if state != old:
            # Not the old lib: then it must be the complete new one.
            assert "pkg24/m39.py" in state and "kbundle.json" in state, sorted(state)[:5]
            new = state
            break
    # The next run cleans up whatever the killed ones left, and completes.
    done = run_cli(
        "vendor",
        "--target",
        str(target),
        "--lock",
        str(lock),
        "-t",
        str(lib),
        "-i",
        index.index_url(),
        "-q",
    )
    assert done.exit_code == 0, done.stderr
    assert "pkg24/m39.py" in _tree(lib)
    assert not [p.name for p in lib.parent.iterdir() if "kbundle-" in p.name]
    if new is not None:
        assert set(new) == set(_tree(lib))


def test_cuda_libraries_are_vendored_and_preloaded(index: IndexServer, tmp_path: Path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is needed to build the fake CUDA runtime")
    build = tmp_path / "cbuild"
    build.mkdir()
    (build / "cudart.c").write_text("int fake_cudart(void) { return 12010; }\n")
    (build / "gpu.c").write_text("int fake_cudart(void);\nint gpu(void){return fake_cudart();}\n")
    subprocess.run(
        [
            gcc,
            "-shared",
            "-fPIC",
            "-Wl,-soname,libcudart.so.12",
            "-o",
            "libcudart.so.12",
            "cudart.c",
        ],
        cwd=build,
        check=True,
    )
    (build / "libcudart.so").symlink_to("libcudart.so.12")
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-o", "libgpu.so", "gpu.c", "-L.", "-lcudart"],
        cwd=build,
        check=True,
    )
    simple = Path(index.indexes["simple"])
    build_wheel(
        simple,
        "nvidia-cuda-runtime-cu12",
        "12.1.105",
        tag="py3-none-manylinux1_x86_64",
        files={"nvidia/cuda_runtime/lib/libcudart.so.12": (build / "libcudart.so.12").read_bytes()},
    )
    build_wheel(
        simple,
        "gpupkg",
        "1.0",
        requires=["nvidia-cuda-runtime-cu12"],
        files={"gpupkg/__init__.py": b"", "gpupkg/libgpu.so": (build / "libgpu.so").read_bytes()},
    )
    python = image_venv(tmp_path, {})
    target = capture(python, tmp_path / "image.toml")
    lib = tmp_path / "lib"
    res = _vendor(index, target, lib, "gpupkg", "-q")
    assert res.exit_code == 0, res.stderr
    assert "nvidia/cuda_runtime/lib/libcudart.so.12" in (lib / "kbundle_boot.py").read_text()
    got = _in_image(
        python,
        lib,
        f"""
        import ctypes
        print(json.dumps({{"value": ctypes.CDLL({str(lib / "gpupkg" / "libgpu.so")!r}).gpu()}}))
    """,
    )
    assert got["value"] == 12010
    check = run_cli("check", "--lib", str(lib), "--target", str(target))
    assert check.exit_code == 0, check.stderr


def test_vendor_help_documents_the_lib_option() -> None:
    res = run_cli("vendor", "--help")
    assert "-t, --lib" in res.stdout
    assert REPO.joinpath("README.md").read_text().count("kbundle vendor") >= 1


def test_vendor_killed_while_unpacking_then_a_vendor_that_succeeds(
    index: IndexServer, tmp_path: Path
) -> None:
    simple = Path(index.indexes["simple"])
    build_wheel(
        simple, "many", "1.0", files={f"many/m{i}.py": f"X = {i}\n".encode() for i in range(300)}
    )
    target = capture(Path(sys.executable), tmp_path / "host.toml")
    lib = _old_lib(tmp_path, index, target)
    old = _tree(lib)
    lock = tmp_path / "many.toml"
    assert (
        run_cli(
            "lock", "many", "--target", str(target), "-i", index.index_url(), "-o", str(lock)
        ).exit_code
        == 0
    )
    marker = tmp_path / "halfway"
    args = ["-q", "vendor", "--target", str(target), "--lock", str(lock), "-t", str(lib)]
    args += ["-i", index.index_url()]
    # The real CLI in a process that stops for good half-way through unpacking
    # (after 150 members), so the SIGKILL lands mid-unpack every time.
    cli_code = f"from bundler.cli import cli\ncli({args!r}, prog_name='kbundle')\n"
    kill_mid_unpack(cli_code, after=150, marker=marker, timeout=120)
    assert _tree(lib) == old
    unpacked = Path(os.environ["KBUNDLE_CACHE_DIR"]) / "unpacked-v1"
    assert list(unpacked.glob("*/*.tmp"))  # killed mid-unpack indeed

    done = run_cli(*args)
    assert done.exit_code == 0, done.stderr
    tree = _tree(lib)
    assert all(f"many/m{i}.py" in tree for i in range(300))
    assert tree["many/m299.py"] == b"X = 299\n"
    assert not list(unpacked.glob("*/*.tmp"))
    assert not [p.name for p in lib.parent.iterdir() if "kbundle-" in p.name]


def test_a_warm_vendor_links_from_unpacked_wheels_without_fetching(
    index: IndexServer, tmp_path: Path
) -> None:
    target = capture(Path(sys.executable), tmp_path / "host.toml")
    first, second = tmp_path / "one" / "lib", tmp_path / "two" / "lib"
    lock = tmp_path / "pylock.toml"
    base = ("--target", str(target), "-i", index.index_url(), "--lock", str(lock), "-q")
    assert run_cli("vendor", "app", *base, "-t", str(first)).exit_code == 0
    # The downloaded wheels are gone and the network is off: the unpacked
    # cache alone builds the second lib.
    shutil.rmtree(Path(os.environ["KBUNDLE_CACHE_DIR"]) / "files")
    before = index.count(".whl")
    res = run_cli("vendor", *base, "--offline", "-t", str(second))
    assert res.exit_code == 0, res.stderr
    assert index.count(".whl") == before
    for name in ("app/__init__.py", "helper.py"):
        assert (second / name).stat().st_ino == (first / name).stat().st_ino
    assert json.loads((second / "kbundle.json").read_text())["packages"]
