"""[tool.kbundle] in-process: keys, types, paths relative to the file, project defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.errors import InputError
from bundler.request.config import KNOWN_KEYS, Config, find_pyproject, load_config


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pyproject.toml"
    path.write_text(text)
    return path


def test_no_pyproject_and_no_table_are_empty_configurations(tmp_path: Path) -> None:
    path = write(tmp_path, '[project]\nname = "x"\n')

    assert load_config(None) == Config()
    assert load_config(path) == Config(path=path)


def test_every_key_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[tool.kbundle]\n"
        'target = "kaggle-t4"\n'
        'manifest = "image/freeze.txt"\n'
        'requirements = ["numpy>=2", "rich"]\n'
        'requirements-files = ["reqs.txt"]\n'
        'lock = "locks/pylock.toml"\n'
        'lib = "out/lib"\n'
        'index-url = "https://i.example/simple/"\n'
        'extra-index-urls = ["https://e.example/simple/"]\n'
        'find-links = ["wheels", "https://f.example/links/"]\n'
        'build = ["Llama_CPP_Python", ":all:"]\n'
        'cuda-index = ["Torch"]\n'
        "offline-env = false\n"
        'keep = ["NumPy"]\n'
        "strict-image = true\n"
        "[tool.kbundle.index-pins]\n"
        'My_Private = "https://p.example/simple/"\n',
    )

    assert load_config(path) == Config(
        path=path,
        target="kaggle-t4",
        manifest=tmp_path / "image" / "freeze.txt",
        requirements=("numpy>=2", "rich"),
        requirements_files=(tmp_path / "reqs.txt",),
        lock=tmp_path / "locks" / "pylock.toml",
        lib=tmp_path / "out" / "lib",
        index_url="https://i.example/simple/",
        extra_index_urls=("https://e.example/simple/",),
        find_links=(str(tmp_path / "wheels"), "https://f.example/links/"),
        index_pins={"my-private": "https://p.example/simple/"},
        build=("llama-cpp-python", ":all:"),
        cuda_index=("torch",),
        offline_env=False,
        keep=("numpy",),
        strict_image=True,
    )


def test_defaults_of_the_flags(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[tool.kbundle]\n"))

    assert (config.offline_env, config.strict_image) == (True, False)


def test_paths_are_relative_to_the_file_and_normalised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "examples" / "agent",
        '[tool.kbundle]\nlock = "../../lockfiles/x.toml"\ntarget = "targets/image.toml"\n',
    )
    monkeypatch.chdir(tmp_path / "examples")  # not the file's folder

    config = load_config(path)

    assert config.lock == tmp_path / "lockfiles" / "x.toml"
    assert config.target == str(tmp_path / "examples" / "agent" / "targets" / "image.toml")


def test_a_target_name_is_not_a_path(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, '[tool.kbundle]\ntarget = "kaggle-t4"\n')).target == (
        "kaggle-t4"
    )


def test_one_bad_key_is_one_message_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.kbundle]\nlib = 3\n")

    with pytest.raises(InputError) as caught:
        load_config(path)

    assert caught.value.source == str(path)
    assert str(caught.value) == f"{path}: key 'tool.kbundle.lib' must be a string, not int"


def test_an_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_config(write(tmp_path, "[tool.kbundle]\nrequirement = []\n"))

    message = str(caught.value)
    assert "key 'tool.kbundle.requirement' is not a known setting" in message
    assert all(key in message for key in KNOWN_KEYS)


def test_every_bad_key_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[tool.kbundle]\ntarget = 3\nstrict-image = "yes"\nkeep = [1]\ntypo = 1\nother = 2\n',
    )

    with pytest.raises(InputError) as caught:
        load_config(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: 4 problems in [tool.kbundle]: ")
    for key in ("target", "strict-image", "keep", "typo", "other"):
        assert f"'tool.kbundle.{key}'" in message, key
    assert message.endswith("Fix them all, then run again.")


def test_a_pyproject_that_is_not_toml_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not valid TOML"):
        load_config(write(tmp_path, "[tool.kbundle\n"))


def test_the_nearest_pyproject_is_found_from_a_sub_folder(tmp_path: Path) -> None:
    outer = write(tmp_path, "")
    inner = write(tmp_path / "a", "")
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "x").mkdir()

    assert find_pyproject(tmp_path / "a" / "b" / "c") == inner
    assert find_pyproject(tmp_path / "x") == outer


def test_default_lock_and_lib_are_in_the_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path / "project", "[tool.kbundle]\n"))
    monkeypatch.chdir(tmp_path)

    assert config.lock_path("kaggle-gpu-2026") == (
        tmp_path / "project" / "lockfiles" / "pylock.kaggle-gpu-2026.toml"
    )
    assert config.lib_path() == tmp_path / "project" / "submission" / "lib"
    assert Config().lock_path("t") == tmp_path / "lockfiles" / "pylock.t.toml"
    assert Config().lib_path() == tmp_path / "submission" / "lib"


def test_configured_lock_and_lib_win_over_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[tool.kbundle]\nlock = "l.toml"\nlib = "build/lib"\n'))

    assert config.lock_path("any-target") == tmp_path / "l.toml"
    assert config.lib_path() == tmp_path / "build" / "lib"
