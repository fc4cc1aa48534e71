"""Request assembly in-process: options beat requirement files beat [tool.kbundle] beat pip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bundler.errors import InputError
from bundler.lock.model import Lock
from bundler.request.assemble import cuda_index_pins, gather_request, kept_names, request_target
from bundler.request.config import Config, load_config
from bundler.request.index_config import PYPI_SIMPLE_URL
from bundler.request.model import LockOptions, LockRequest
from bundler.target.cuda import CUDA_INDEXES
from bundler.target.model import Target
from bundler.target.presets import DEFAULT_TARGET, load_preset

PIP = "https://pip.example/simple/"
PYPROJECT = "https://pyproject.example/simple/"
FILE = "https://file.example/simple/"
OPTION = "https://option.example/simple/"


@pytest.fixture(scope="module")
def t4() -> Target:
    return load_preset("kaggle-t4")


@pytest.fixture
def pip_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip's configuration names an index (read last, so it wins over the machine's)."""
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {PIP}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))


def project(folder: Path, table: str) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text("[tool.kbundle]\n" + table)
    return load_config(folder / "pyproject.toml")


def names(request: LockRequest) -> list[str]:
    return [str(r.requirement) for r in request.requirements]


# -- the primary index: one value, the first place that gives it -----------------------


@pytest.mark.usefixtures("pip_config")
def test_the_primary_index_is_options_then_files_then_pyproject_then_pip(
    tmp_path: Path, t4: Target
) -> None:
    (tmp_path / "reqs.txt").write_text(f"--index-url {FILE}\nzz-a\n")
    config = project(tmp_path, f'index-url = "{PYPROJECT}"\n')
    with_file = LockOptions(requirement_files=(tmp_path / "reqs.txt",))

    def primary(options: LockOptions, config: Config | None) -> str:
        request = gather_request(options, config, requirements=["zz-a"], target=t4)
        return request.index.index_urls[0]

    assert primary(replace(with_file, index_url=OPTION), config) == OPTION
    assert primary(with_file, config) == FILE
    assert primary(LockOptions(), config) == PYPROJECT
    assert primary(LockOptions(), None) == PIP


def test_without_any_configuration_the_index_is_pypi(
    tmp_path: Path, t4: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # pip's switch for "no files at all"

    request = gather_request(LockOptions(), requirements=["zz-a"], target=t4)

    assert request.index.index_urls == (PYPI_SIMPLE_URL,)


@pytest.mark.usefixtures("pip_config")
def test_lists_are_joined_in_precedence_order_without_repeats(tmp_path: Path, t4: Target) -> None:
    links = tmp_path / "links"
    links.mkdir()
    (tmp_path / "reqs.txt").write_text(
        f"--extra-index-url {FILE}\n--extra-index-url {OPTION}\n-f https://f.example/file/\nzz-a\n"
    )
    config = project(
        tmp_path,
        f'extra-index-urls = ["{PYPROJECT}", "{FILE}"]\nfind-links = ["links"]\n'
        'build = ["Zz_B"]\nkeep = ["numpy"]\n',
    )
    options = LockOptions(
        requirement_files=(tmp_path / "reqs.txt",),
        extra_index_urls=(OPTION,),
        find_links=("https://f.example/option/",),
        build=("zz.c",),
        keep=("NumPy", "pandas"),
    )

    request = gather_request(options, config, target=t4)

    assert request.index.index_urls == (PIP, OPTION, FILE, PYPROJECT)
    assert request.index.find_links == (
        "https://f.example/option/",
        "https://f.example/file/",
        str(links),
    )
    assert request.build == {"zz-b", "zz-c"}
    assert request.keep == {"numpy", "pandas"}


def test_flags_are_on_when_any_source_turns_them_on(tmp_path: Path, t4: Target) -> None:
    (tmp_path / "reqs.txt").write_text("--pre\nzz-a\n")
    config = project(tmp_path, "strict-image = true\n")

    request = gather_request(
        LockOptions(requirement_files=(tmp_path / "reqs.txt",)), config, target=t4
    )
    plain = gather_request(LockOptions(), requirements=["zz-a"], target=t4)

    assert (request.pre, request.strict_image) == (True, True)
    assert (plain.pre, plain.strict_image) == (False, False)


# -- requirements ------------------------------------------------------------------------


def test_arguments_and_files_are_requirements_and_pyproject_ones_only_without_them(
    tmp_path: Path, t4: Target
) -> None:
    (tmp_path / "reqs.txt").write_text("zz-file\n")
    (tmp_path / "more.txt").write_text("zz-more\n")
    config = project(tmp_path, 'requirements = ["zz-pyproject"]\n')
    files = project(tmp_path / "sub", 'requirements = ["zz-pyproject"]\n')
    files = replace(files, requirements_files=(tmp_path / "more.txt",))
    with_file = LockOptions(requirement_files=(tmp_path / "reqs.txt",))

    assert names(gather_request(LockOptions(), config, target=t4)) == ["zz-pyproject"]
    assert names(gather_request(LockOptions(), config, requirements=["zz-arg"], target=t4)) == [
        "zz-arg"
    ]
    assert names(gather_request(with_file, config, requirements=["zz-arg"], target=t4)) == [
        "zz-arg",
        "zz-file",
    ]
    # [tool.kbundle] requirements-files are read even beside arguments.
    assert names(gather_request(LockOptions(), files, requirements=["zz-arg"], target=t4)) == [
        "zz-arg",
        "zz-more",
    ]


def test_where_each_requirement_was_written_is_kept(tmp_path: Path, t4: Target) -> None:
    (tmp_path / "reqs.txt").write_text("# header\nzz-file\n")
    config = project(tmp_path, 'requirements = ["zz-pyproject"]\n')

    typed = gather_request(LockOptions(), config, requirements=["zz-arg"], target=t4)
    filed = gather_request(
        LockOptions(requirement_files=(tmp_path / "reqs.txt",)), config, target=t4
    )
    from_table = gather_request(LockOptions(), config, target=t4)

    assert [r.location for r in typed.requirements] == ["command line"]
    assert [r.location for r in filed.requirements] == [f"{tmp_path / 'reqs.txt'}:2"]
    assert [r.location for r in from_table.requirements] == [str(tmp_path / "pyproject.toml")]


def test_constraint_files_constrain_and_do_not_require(tmp_path: Path, t4: Target) -> None:
    (tmp_path / "c.txt").write_text("zz-b<2\n")

    request = gather_request(
        LockOptions(constraint_files=(tmp_path / "c.txt",)), requirements=["zz-a"], target=t4
    )

    assert names(request) == ["zz-a"]
    assert [str(c.requirement) for c in request.constraints] == ["zz-b<2"]


def test_nothing_to_lock_is_bad_input_unless_input_is_optional(t4: Target) -> None:
    with pytest.raises(InputError, match="nothing to lock"):
        gather_request(LockOptions(), target=t4)

    assert gather_request(LockOptions(), target=t4, require_input=False).requirements == []


def test_relative_paths_in_pyproject_are_relative_to_its_folder(
    tmp_path: Path, t4: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    (folder / "reqs").mkdir(parents=True)
    (folder / "reqs" / "base.txt").write_text("zz-base\n")
    config = project(folder, 'requirements-files = ["reqs/base.txt"]\nfind-links = ["wheels"]\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    request = gather_request(LockOptions(), config, target=t4)

    assert names(request) == ["zz-base"]
    assert request.index.find_links == (str(folder / "wheels"),)


# -- the target, pins, upgrades ----------------------------------------------------------


def test_the_target_is_the_options_then_pyproject_then_the_default(tmp_path: Path) -> None:
    config = project(tmp_path, 'target = "kaggle-t4"\n')

    assert request_target(LockOptions(target="kaggle-cpu-2026"), config).name == "kaggle-cpu-2026"
    assert request_target(LockOptions(), config).name == load_preset("kaggle-t4").name
    assert request_target(LockOptions()).name == DEFAULT_TARGET


def test_target_options_repeat_only_what_the_caller_typed(tmp_path: Path, t4: Target) -> None:
    manifest = tmp_path / "freeze.txt"
    typed = LockOptions(target="kaggle-t4", manifest=manifest)

    assert gather_request(typed, requirements=["a"], target=t4).target_options == (
        "--target",
        "kaggle-t4",
        "--manifest",
        str(manifest),
    )
    assert gather_request(LockOptions(), requirements=["a"], target=t4).target_options == ()


def test_cuda_indexes_pin_their_projects_and_may_fall_back(tmp_path: Path, t4: Target) -> None:
    config = project(
        tmp_path,
        'cuda-index = ["torch"]\n[tool.kbundle.index-pins]\nZz_Private = "https://p.example/simple/"\n',
    )

    request = gather_request(
        LockOptions(cuda_indexes=("llama_cpp_python",)), config, requirements=["a"], target=t4
    )

    assert dict(request.index.pins) == {
        "zz-private": "https://p.example/simple/",
        "torch": CUDA_INDEXES["torch"],
        "llama-cpp-python": CUDA_INDEXES["llama-cpp-python"],
    }
    assert request.index.pin_fallback == {"torch", "llama-cpp-python"}
    assert request.index.cuda is not None  # the T4 image has CUDA: {cuda} can be filled


def test_an_unknown_cuda_index_names_the_known_ones() -> None:
    with pytest.raises(InputError) as caught:
        cuda_index_pins(["tensorflow"])

    message = str(caught.value)
    assert message.startswith("--cuda-index: no CUDA wheel index is known for tensorflow")
    assert "torch" in message and "[tool.kbundle.index-pins]" in message


def test_upgrade_packages_are_canonical_names(t4: Target) -> None:
    options = LockOptions(upgrade_packages=("Zz_B",), upgrade=True, offline=True, refresh=True)

    request = gather_request(options, requirements=["a"], target=t4)

    assert request.upgrade_packages == {"zz-b"}
    assert (request.upgrade, request.offline, request.refresh) == (True, True, True)


def test_keeping_a_package_the_image_lacks_is_bad_input(t4: Target) -> None:
    assert kept_names(t4, ["NumPy"]) == {"numpy"}
    with pytest.raises(
        InputError, match=f"--keep zz-none: the image of target {t4.name} has no zz-none"
    ):
        kept_names(t4, ["numpy", "zz_none"])


# -- checked before any request is sent --------------------------------------------------


@pytest.mark.parametrize(
    ("options", "table", "source"),
    [
        (LockOptions(index_url="ftp://x/simple"), "", "-i/--index-url"),
        (LockOptions(extra_index_urls=("https://",)), "", "--extra-index-url"),
        (LockOptions(find_links=("gopher://x/",)), "", "-f/--find-links"),
        (LockOptions(), 'index-url = "nohost"\n', "pyproject.toml"),
        (LockOptions(), '[tool.kbundle.index-pins]\nzz = "ftp://x/"\n', "index-pins"),
        (LockOptions(build=("not a name",)), "", "--build"),
        (LockOptions(upgrade_packages=("-bad-",)), "", "-P/--upgrade-package"),
    ],
)
def test_bad_urls_and_names_are_refused_with_their_source(
    options: LockOptions, table: str, source: str, tmp_path: Path, t4: Target
) -> None:
    config = project(tmp_path, table)

    with pytest.raises(InputError) as caught:
        gather_request(options, config, requirements=["a"], target=t4)

    assert source in (caught.value.source or ""), caught.value


def test_a_requirements_file_index_url_is_checked(tmp_path: Path, t4: Target) -> None:
    (tmp_path / "reqs.txt").write_text("--index-url ftp://x/simple\nzz-a\n")

    with pytest.raises(InputError, match="is not a URL kbundle can fetch"):
        gather_request(LockOptions(requirement_files=(tmp_path / "reqs.txt",)), target=t4)


# -- a request against an existing lock --------------------------------------------------


def lock_for(*requirements: str) -> Lock:
    return Lock("kaggle-t4", "f", ">=3.10", "", requirements, (), "0")


def test_a_lock_for_the_same_requirements_spelt_otherwise_is_not_for_others(t4: Target) -> None:
    request = gather_request(LockOptions(), requirements=["Zz_A>=1,<2", "zz-b"], target=t4)

    assert not request.locked_for_other(lock_for("zz-b", "zz-a<2,>=1"))
    assert request.requirement_change(lock_for("zz-b", "zz-a<2,>=1")) == ([], [])


def test_what_a_request_adds_to_and_drops_from_a_lock(t4: Target) -> None:
    request = gather_request(LockOptions(), requirements=["zz-a", "zz-c"], target=t4)

    assert request.locked_for_other(lock_for("zz-a", "zz-b"))
    assert request.requirement_change(lock_for("zz-a", "zz-b")) == (["zz-c"], ["zz-b"])
    # A requirement the lock spells unparseably never equals one typed.
    assert request.requirement_change(lock_for("zz-a", "zz-c", "??")) == (
        [],
        ["invalid-requirement-in-lock"],
    )
