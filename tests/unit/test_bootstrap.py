"""kbundle_boot.py: rendered, written into a real lib, and run by another Python.

The "image" is a venv made with ``python -m venv --without-pip`` from an
older interpreter when pyenv has one (3.8 first: the oldest the bootstrap
supports), holding its own ``imgpkg 1.0``. The bundle vendors ``imgpkg 2.0``
(shadowing it) and ``vendpkg``, installed from real wheels with
:func:`bundler.vendor.install.install_wheels`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bundler.errors import InputError
from bundler.vendor.bootstrap import SNIPPET, BootInfo, Shadowed, render_bootstrap
from bundler.vendor.install import install_wheels
from tests.helpers.wheels import build_wheel

SHADOWED = {"imgpkg": Shadowed("2.0", "1.0", ("imgpkg",))}


def _pyenv_python(minor: str) -> str | None:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    if shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        root = found.stdout.strip() or root
    candidates = sorted(Path(root).glob(f"versions/{minor}.*/bin/python"))
    return str(candidates[-1]) if candidates else None


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "KBUNDLE_")) and key != "LD_LIBRARY_PATH"
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def image_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv playing the image, with imgpkg 1.0 (a package with a submodule) installed."""
    base = _pyenv_python("3.8") or _pyenv_python("3.10") or getattr(sys, "_base_executable", None)
    assert base, "no interpreter to build the image venv from"
    venv = tmp_path_factory.mktemp("image") / "venv"
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    site = Path(purelib)
    (site / "imgpkg").mkdir()
    (site / "imgpkg" / "__init__.py").write_text("VERSION = 'image'\n")
    (site / "imgpkg" / "sub.py").write_text("WHERE = 'image'\n")
    dist_info = site / "imgpkg-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: imgpkg\nVersion: 1.0\n")
    (dist_info / "INSTALLER").write_text("test\n")
    (dist_info / "RECORD").write_text("")
    return python


def _make_lib(root: Path, info: BootInfo | None = None) -> Path:
    """A lib with imgpkg 2.0 and vendpkg 1.0 installed from wheels, plus kbundle_boot.py."""
    wheels = root / "wheels"
    built = [
        build_wheel(
            wheels,
            "imgpkg",
            "2.0",
            files={
                "imgpkg/__init__.py": b"VERSION = 'vendored'\n",
                "imgpkg/sub.py": b"WHERE = 'vendored'\n",
            },
        ),
        build_wheel(wheels, "vendpkg", "1.0", files={"vendpkg/__init__.py": b"OK = True\n"}),
    ]
    lib = root / "lib"
    install_wheels(built, lib)
    boot = info or BootInfo("sha256:test", shadowed=SHADOWED)
    (lib / "kbundle_boot.py").write_bytes(render_bootstrap(boot))
    return lib


def _run(
    python: Path, code: str, *, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_clean_env(**env),
        check=False,
    )


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_activation_puts_lib_first_and_imports_vendored_versions(
    tmp_path: Path, image_python: Path
) -> None:
    lib = _make_lib(tmp_path)
    result = _run(
        image_python,
        f"""
        import json, sys
        sys.path.append({str(lib)!r})   # found last: kbundle_boot must move it first
        import kbundle_boot, imgpkg, imgpkg.sub, vendpkg
        from importlib.metadata import version
        print(json.dumps({{
            "first": sys.path[0], "count": sys.path.count({str(lib)!r}),
            "venv": sys.prefix != sys.base_prefix,
            "imgpkg": imgpkg.VERSION, "sub": imgpkg.sub.WHERE, "metadata": version("imgpkg"),
            "fingerprint": kbundle_boot.FINGERPRINT,
        }}))
        """,
    )
    assert _json(result) == {
        "first": str(lib),
        "count": 1,
        "venv": True,
        "imgpkg": "vendored",
        "sub": "vendored",
        "metadata": "2.0",
        "fingerprint": "sha256:test",
    }


def test_pth_files_are_processed_and_stay_ahead_of_the_image(
    tmp_path: Path, image_python: Path
) -> None:
    lib = _make_lib(tmp_path)
    (lib / "extra_dir").mkdir()
    (lib / "extra_dir" / "extramod.py").write_text("FROM = 'extra_dir'\n")
    (lib / "a_paths.pth").write_text("# a comment\nextra_dir\nmissing_dir\n")
    (lib / "pthhook.py").write_text("RUNS = []\ndef hit():\n    RUNS.append(1)\n")
    (lib / "b_hook.pth").write_text("import pthhook; pthhook.hit()\n")
    result = _run(
        image_python,
        f"""
        import json, sys, sysconfig
        sys.path.insert(0, {str(lib)!r})
        import kbundle_boot, extramod, pthhook
        site = sysconfig.get_paths()["purelib"]
        print(json.dumps({{
            "head": sys.path[:2], "extra_before_site": sys.path.index(site) > 1,
            "extramod": extramod.FROM, "runs": len(pthhook.RUNS),
            "missing": any(p.endswith("missing_dir") for p in sys.path),
        }}))
        """,
    )
    assert _json(result) == {
        "head": [str(lib), str(lib / "extra_dir")],
        "extra_before_site": True,
        "extramod": "extra_dir",
        "runs": 1,
        "missing": False,
    }


def test_activation_is_idempotent(tmp_path: Path, image_python: Path) -> None:
    lib = _make_lib(tmp_path)
    (lib / "pthhook.py").write_text("RUNS = []\ndef hit():\n    RUNS.append(1)\n")
    (lib / "hook.pth").write_text("import pthhook; pthhook.hit()\n")
    result = _run(
        image_python,
        f"""
        import importlib, json, os, sys
        lib = {str(lib)!r}
        sys.path.insert(0, lib)
        sys.path.append(lib + os.sep)  # another spelling of the same folder
        import kbundle_boot
        import kbundle_boot
        importlib.reload(kbundle_boot)
        kbundle_boot.activate()
        sys.path.remove(lib)
        sys.path.append(lib)
        kbundle_boot.activate()          # moves it back to the front, nothing else
        import pthhook
        same = [p for p in sys.path if os.path.realpath(p or ".") == os.path.realpath(lib)]
        print(json.dumps({{"first": sys.path[0] == lib, "same": len(same),
                          "runs": len(pthhook.RUNS)}}))
        """,
    )
    assert _json(result) == {"first": True, "same": 1, "runs": 1}


def test_shadowed_module_imported_first_is_refused(tmp_path: Path, image_python: Path) -> None:
    lib = _make_lib(tmp_path, BootInfo("fp", shadowed=SHADOWED, env={"KB_SET": "yes"}))
    result = _run(
        image_python,
        f"""
        import json, os, sys
        import imgpkg                      # the image's copy, before the bundle
        sys.path.insert(0, {str(lib)!r})
        try:
            import kbundle_boot
        except ImportError as error:
            print(json.dumps({{
                "type": type(error).__name__, "message": str(error), "name": error.name,
                "shadowed": [list(item) for item in error.shadowed],
                "env_untouched": "KB_SET" not in os.environ,
                "loaded": "kbundle_boot" in sys.modules,
            }}))
        """,
    )
    data = _json(result)
    message = str(data["message"])
    assert data["type"] == "ShadowedImportError"
    assert data["name"] == "imgpkg"
    assert "imgpkg" in message and "2.0" in message and "1.0" in message
    assert "site-packages" in message  # where the image's copy came from
    assert "first lines of main.py" in message and "preloaded" in message
    assert "KBUNDLE_SHADOW=warn" in message
    [shadowed] = data["shadowed"]
    assert shadowed[:4] == ["imgpkg", "imgpkg", "2.0", "1.0"]
    assert data["env_untouched"] is True and data["loaded"] is False


def test_stale_submodule_of_a_shadowed_package_is_refused(
    tmp_path: Path, image_python: Path
) -> None:
    lib = _make_lib(tmp_path)
    result = _run(
        image_python,
        f"""
        import sys
        import imgpkg.sub
        del sys.modules["imgpkg"]          # the package is gone, its submodule is not
        sys.path.insert(0, {str(lib)!r})
        import kbundle_boot
        """,
    )
    assert result.returncode == 1
    assert "ShadowedImportError" in result.stderr and "imgpkg.sub was imported" in result.stderr


def test_shadow_warn_mode_warns_and_keeps_the_image_copy(
    tmp_path: Path, image_python: Path
) -> None:
    lib = _make_lib(tmp_path)
    result = _run(
        image_python,
        f"""
        import json, sys, warnings
        import imgpkg
        sys.path.insert(0, {str(lib)!r})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import kbundle_boot
        import imgpkg, vendpkg
        print(json.dumps({{
            "warnings": [(w.category.__name__, str(w.message)) for w in caught],
            "imgpkg": imgpkg.VERSION, "first": sys.path[0],
        }}))
        """,
        KBUNDLE_SHADOW="warn",
    )
    data = _json(result)
    [(category, message)] = data["warnings"]
    assert category == "ShadowedImportWarning"
    assert "2.0" in message and "1.0" in message and "stays in use" in message
    assert data["imgpkg"] == "image"
    assert data["first"] == str(lib)


def test_environment_variables_are_templated_and_never_override(
    tmp_path: Path, image_python: Path
) -> None:
    info = BootInfo("fp", env={"KB_HOME": "{lib}/data", "KB_KEEP": "from-bundle", "KB_PLAIN": "1"})
    lib = _make_lib(tmp_path, info)
    result = _run(
        image_python,
        f"""
        import json, os, sys
        sys.path.insert(0, {str(lib)!r})
        import kbundle_boot
        print(json.dumps({{k: os.environ.get(k) for k in ("KB_HOME", "KB_KEEP", "KB_PLAIN")}}))
        """,
        KB_KEEP="from-user",
    )
    assert _json(result) == {
        "KB_HOME": f"{lib}/data",
        "KB_KEEP": "from-user",
        "KB_PLAIN": "1",
    }


@pytest.fixture(scope="module")
def fake_cuda(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """libcudart.so.12 (soname set) and libuser.so that NEEDs it, built with gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is needed to build the fake CUDA runtime")
    build = tmp_path_factory.mktemp("cuda-build")
    (build / "cudart.c").write_text("int fake_cuda_runtime_version(void) { return 12010; }\n")
    (build / "user.c").write_text(
        "int fake_cuda_runtime_version(void);\n"
        "int user_version(void) { return fake_cuda_runtime_version(); }\n"
    )
    compile_ = [gcc, "-shared", "-fPIC"]
    subprocess.run(
        [*compile_, "-Wl,-soname,libcudart.so.12", "-o", "libcudart.so.12", "cudart.c"],
        cwd=build,
        check=True,
    )
    (build / "libcudart.so").symlink_to("libcudart.so.12")  # for the link step only
    subprocess.run(
        [*compile_, "-o", "libuser.so", "user.c", "-L.", "-lcudart"], cwd=build, check=True
    )
    return build


def _cuda_lib(root: Path, fake_cuda: Path, cuda: tuple[str, ...]) -> Path:
    lib = _make_lib(root, BootInfo("fp", cuda_libraries=cuda))
    runtime = lib / "nvidia" / "cuda_runtime" / "lib"
    runtime.mkdir(parents=True)
    shutil.copy(fake_cuda / "libcudart.so.12", runtime / "libcudart.so.12")
    (lib / "userpkg").mkdir()
    shutil.copy(fake_cuda / "libuser.so", lib / "userpkg" / "libuser.so")
    return lib


LOAD_USER = """
import ctypes, json, sys, warnings
sys.path.insert(0, {lib!r})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    if {boot!r}:
        import kbundle_boot
try:
    user = ctypes.CDLL({libuser!r})
    messages = [str(w.message) for w in caught]
    print(json.dumps({{"version": user.user_version(), "warnings": messages}}))
except OSError as error:
    print(json.dumps({{"error": str(error)}}))
"""


def test_cuda_libraries_are_preloaded_globally(
    tmp_path: Path, image_python: Path, fake_cuda: Path
) -> None:
    cuda = (
        "nvidia/cuda_runtime/lib/libcudart.so.12",
        "nvidia/cublas/lib/libcublas.so.12",  # not in this bundle: skipped silently
    )
    lib = _cuda_lib(tmp_path, fake_cuda, cuda)
    libuser = str(lib / "userpkg" / "libuser.so")

    control = _run(image_python, LOAD_USER.format(lib=str(lib), boot=False, libuser=libuser))
    assert "libcudart.so.12: cannot open shared object file" in str(_json(control)["error"])

    booted = _run(image_python, LOAD_USER.format(lib=str(lib), boot=True, libuser=libuser))
    assert _json(booted) == {"version": 12010, "warnings": []}


def test_cuda_preload_retries_a_wrong_order_and_warns_on_broken_files(
    tmp_path: Path, image_python: Path, fake_cuda: Path
) -> None:
    cuda = (
        "userpkg/libuser.so",  # needs libcudart: fails in the first round, loads in the second
        "nvidia/broken/libbroken.so",
        "nvidia/cuda_runtime/lib/libcudart.so.12",
    )
    lib = _cuda_lib(tmp_path, fake_cuda, cuda)
    (lib / "nvidia" / "broken").mkdir()
    (lib / "nvidia" / "broken" / "libbroken.so").write_text("not an ELF file\n")
    libuser = str(lib / "userpkg" / "libuser.so")

    data = _json(_run(image_python, LOAD_USER.format(lib=str(lib), boot=True, libuser=libuser)))

    assert data["version"] == 12010
    [warning] = data["warnings"]
    assert "could not preload 1 vendored CUDA library" in warning and "libbroken.so" in warning


def test_snippet_with_python_main_py(tmp_path: Path, image_python: Path) -> None:
    submission = tmp_path / "checkout"
    lib = _make_lib(submission)
    (submission / "main.py").write_text(
        SNIPPET + "import imgpkg\nprint(imgpkg.VERSION, kbundle_boot.LIB)\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [str(image_python), str(submission / "main.py")],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["vendored", str(lib)]


HARNESS = """
import json, sys
namespace = {{}}
exec(compile(open({main!r}).read(), "<agent>", "exec"), namespace)
agents = [k for k, v in namespace.items() if callable(v) and not k.startswith("__")]
print(json.dumps({{"version": namespace["VERSION"], "lib": namespace["kbundle_boot"].LIB,
                  "has_file": "__file__" in namespace, "callables": agents}}))
"""


def test_snippet_exec_without_file_finds_the_kaggle_location(
    tmp_path: Path, image_python: Path
) -> None:
    # /kaggle_simulations/agent/ is played by a folder under tmp_path: the
    # snippet's candidate is rewritten to it, exactly as Kaggle unpacks.
    agent = tmp_path / "kaggle_simulations" / "agent"
    lib = _make_lib(agent)
    snippet = SNIPPET.replace("/kaggle_simulations/agent/lib", str(lib))
    assert snippet != SNIPPET
    (agent / "main.py").write_text(snippet + "import imgpkg\nVERSION = imgpkg.VERSION\n")
    harness_cwd = tmp_path / "harness"
    harness_cwd.mkdir()

    result = _run(image_python, HARNESS.format(main=str(agent / "main.py")), cwd=harness_cwd)

    assert _json(result) == {
        "version": "vendored",
        "lib": str(lib),
        "has_file": False,
        "callables": [],  # Kaggle's agent is main.py's last callable: the snippet adds none
    }


def test_snippet_exec_uses_kbundle_lib_then_cwd(tmp_path: Path, image_python: Path) -> None:
    submission = tmp_path / "submission"
    lib = _make_lib(submission)
    (submission / "main.py").write_text(SNIPPET + "import imgpkg\nVERSION = imgpkg.VERSION\n")
    harness_cwd = tmp_path / "harness"
    harness_cwd.mkdir()
    harness = HARNESS.format(main=str(submission / "main.py"))

    by_env = _run(image_python, harness, cwd=harness_cwd, KBUNDLE_LIB=str(lib))
    assert _json(by_env)["lib"] == str(lib)

    by_cwd = _run(image_python, harness, cwd=submission)
    assert _json(by_cwd)["lib"] == str(lib)

    nowhere = _run(image_python, harness, cwd=harness_cwd)
    assert nowhere.returncode == 1
    assert "kbundle_boot.py is in none of" in nowhere.stderr and "KBUNDLE_LIB" in nowhere.stderr


def test_snippet_finds_a_lib_shipped_as_a_dataset(tmp_path: Path, image_python: Path) -> None:
    # A notebook's attached datasets: <input>/<name>/lib, or a version folder
    # <input>/<name>/<version>/lib. KBUNDLE_INPUT plays /kaggle/input.
    inputs = tmp_path / "input"
    (inputs / "unrelated-data").mkdir(parents=True)
    (inputs / "unrelated-data" / "train.csv").write_text("a,b\n")
    versioned = _make_lib(inputs / "agent-libs" / "2")
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    (notebook / "main.py").write_text(SNIPPET + "import imgpkg\nVERSION = imgpkg.VERSION\n")
    harness = HARNESS.format(main=str(notebook / "main.py"))

    only_versioned = _run(image_python, harness, cwd=notebook, KBUNDLE_INPUT=str(inputs))
    assert _json(only_versioned) == {
        "version": "vendored",
        "lib": str(versioned),
        "has_file": False,
        "callables": [],
    }
    assert "also found" not in only_versioned.stderr

    # A dataset's own lib/ is nearer than a version folder's: it wins, and
    # the snippet says which one it took.
    nearer = _make_lib(inputs / "zz-libs")
    both = _run(image_python, harness, cwd=notebook, KBUNDLE_INPUT=str(inputs))
    assert _json(both)["lib"] == str(nearer)
    assert f"kbundle: using {nearer}; also found {versioned}" in both.stderr


def test_snippet_prefers_the_lib_beside_main_py_over_a_dataset(
    tmp_path: Path, image_python: Path
) -> None:
    inputs = tmp_path / "input"
    dataset_lib = _make_lib(inputs / "libs")
    submission = tmp_path / "submission"
    lib = _make_lib(submission)
    (submission / "main.py").write_text(
        SNIPPET + "import imgpkg\nprint(imgpkg.VERSION, kbundle_boot.LIB)\n"
    )
    result = subprocess.run(
        [str(image_python), str(submission / "main.py")],
        cwd=submission,  # ./lib is the same folder: not reported as another lib
        capture_output=True,
        text=True,
        env=_clean_env(KBUNDLE_INPUT=str(inputs)),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["vendored", str(lib)]
    assert result.stderr.strip() == f"kbundle: using {lib}; also found {dataset_lib}"


@pytest.mark.parametrize("minor", ["3.8", "3.10", "3.12", "3.13"])
def test_bootstrap_runs_on_each_supported_python(tmp_path: Path, minor: str) -> None:
    python = _pyenv_python(minor)
    if python is None:
        pytest.skip(f"no pyenv CPython {minor} on this machine")
    lib = _make_lib(tmp_path)
    (lib / "extra_dir").mkdir()
    (lib / "extra.pth").write_text("extra_dir\n")
    result = _run(
        Path(python),
        f"""
        import json, sys
        sys.path.insert(0, {str(lib)!r})
        import kbundle_boot, imgpkg
        print(json.dumps({{"first": sys.path[:2], "imgpkg": imgpkg.VERSION}}))
        """,
    )
    assert _json(result) == {"first": [str(lib), str(lib / "extra_dir")], "imgpkg": "vendored"}


def test_render_is_deterministic_and_valid_python() -> None:
    info = BootInfo(
        "sha256:abc",
        kbundle_version="9.9",
        shadowed={
            "zeta": ("2", "1", ("zeta",)),  # a plain tuple works too
            "Alpha": Shadowed("1.1", "1.0", ("b_mod", "a_mod", "alpha-stubs", "alpha.libs")),
        },
        cuda_libraries=("nvidia/b.so.12", "nvidia/a.so.12"),
        env={"Z": 'it\'s "quoted" {lib}', "A": "ü"},
    )
    source = render_bootstrap(info)
    assert source == render_bootstrap(info)
    assert source.startswith(b"# Generated by kbundle 9.9 for bundle sha256:abc.\n")
    namespace: dict[str, object] = {"__name__": "kbundle_boot", "__file__": "x/y.py"}
    exec(compile(source, "kbundle_boot.py", "exec"), namespace)
    assert namespace["SHADOWED"] == {
        "Alpha": ("1.1", "1.0", ("a_mod", "alpha.libs", "b_mod")),
        "zeta": ("2", "1", ("zeta",)),
    }
    assert namespace["CUDA_LIBRARIES"] == ("nvidia/b.so.12", "nvidia/a.so.12")
    assert namespace["ENV"] == {"A": "ü", "Z": 'it\'s "quoted" {lib}'}
    assert list(namespace["ENV"]) == ["A", "Z"]


def test_rendered_module_is_lint_clean(tmp_path: Path) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed next to this interpreter")
    info = BootInfo("fp", shadowed=SHADOWED, cuda_libraries=("a/b.so",), env={"K": "{lib}"})
    target = tmp_path / "kbundle_boot.py"
    target.write_bytes(render_bootstrap(info))
    options = ["--isolated", "--target-version", "py38", "--line-length", "100"]
    result = subprocess.run(
        [str(ruff), "check", *options, "--select", "E,F,W,UP,B", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_importing_the_template_does_not_activate() -> None:
    before = list(sys.path)
    import bundler.vendor._boot_template as template

    assert sys.path == before
    assert template._ACTIVATED is False


@pytest.mark.parametrize(
    ("info", "match"),
    [
        (BootInfo("fp", cuda_libraries=("../outside.so",)), "not inside lib"),
        (BootInfo("fp", cuda_libraries=("/usr/lib/libcuda.so",)), "not inside lib"),
        (BootInfo("fp", env={"A=B": "x"}), "not a valid environment variable"),
    ],
)
def test_render_refuses_unsafe_values(info: BootInfo, match: str) -> None:
    with pytest.raises(InputError, match=match):
        render_bootstrap(info)
