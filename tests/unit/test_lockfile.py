"""Tests for bundler.lock.pylock: PEP 751 rendering, reading back, requirements.txt export."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import tomli_w
from packaging.markers import Environment
from packaging.pylock import PackageSdist, PackageWheel, Pylock, PylockSelectError
from packaging.tags import Tag

from bundler.errors import InputError, KbundleError
from bundler.lock.model import Artifact, Lock, LockedPackage
from bundler.lock.pylock import parse_lock, read_lock, render_lock, render_requirements_txt
from bundler.request.requirements_file import parse_requirements_text
from bundler.target.model import default_markers
from bundler.toml_table import parse_toml

SRC = "pylock.toml"
FILES = "https://files.example.org/packages"
MARKER = (
    'sys_platform == "linux" and platform_machine == "x86_64" and python_full_version == "3.11.13"'
)
TARGET_TAGS = [
    Tag("cp311", "cp311", "manylinux_2_28_x86_64"),
    Tag("cp311", "cp311", "manylinux_2_17_x86_64"),
    Tag("cp311", "abi3", "manylinux_2_17_x86_64"),
    Tag("py3", "none", "any"),
]


def sha(char: str) -> str:
    return char * 64


def wheel(filename: str, digest: str, upload_time: str | None = None) -> Artifact:
    return Artifact(f"{FILES}/{filename}", filename, digest, 1000 + len(filename), upload_time)


def make_lock(**changes: Any) -> Lock:
    """A small but complete closure: image, vendored, shadowing and built packages."""
    packages = (
        LockedPackage(
            "matplotlib",
            "3.9.0",
            "vendor",
            wheel=wheel(
                "matplotlib-3.9.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                sha("1"),
                "2024-05-15T23:37:48.123456Z",
            ),
            index="https://pypi.org/simple",
            requires_python=">=3.9",
            dependencies=("numpy", "pyparsing"),
            shadows="3.7.5",
        ),
        LockedPackage("numpy", "2.0.2", "image"),
        LockedPackage("pandas", "2.2.2", "image", dependencies=("numpy",)),
        LockedPackage(
            "pyparsing",
            "3.1.2",
            "vendor",
            wheel=wheel("pyparsing-3.1.2-py3-none-any.whl", sha("2"), "2024-03-06T06:30:27Z"),
            index="https://pypi.org/simple",
            requires_python=">=3.6.8",
        ),
        LockedPackage(
            "seaborn",
            "0.13.2",
            "vendor",
            wheel=wheel("seaborn-0.13.2-py3-none-any.whl", sha("3")),
            index="https://pypi.org/simple",
            dependencies=("matplotlib", "numpy", "pandas"),
        ),
        LockedPackage(
            "tinysrc",
            "1.0",
            "build",
            sdist=wheel("tinysrc-1.0.tar.gz", sha("4")),
            dependencies=("numpy",),
        ),
    )
    values: dict[str, Any] = {
        "target_name": "kaggle-cpu-2026",
        "target_fingerprint": "sha256:0123456789abcdef",
        "requires_python": "==3.11.13",
        "marker": MARKER,
        "requirements": ("seaborn>=0.13", "tinysrc"),
        "packages": packages,
        "kbundle_version": "0.1.0",
        "extra": {"cuda-index": ["torch"], "resolved-with": "resolvelib"},
    }
    values.update(changes)
    return Lock(**values)


def loads(text: str) -> dict[str, Any]:
    """tomllib.loads (tomli on 3.10), as the project reads TOML."""
    return parse_toml(text.encode(), SRC)


def document(lock: Lock | None = None) -> dict[str, Any]:
    return loads(render_lock(lock or make_lock()))


def package(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in doc["packages"] if p["name"] == name)


def target_environment() -> Environment:
    return cast(Environment, default_markers("3.11.13", "x86_64"))


# ------------------------------------------------------------------ PEP 751 validity


def test_rendered_lock_is_valid_pep_751() -> None:
    pylock = Pylock.from_dict(loads(render_lock(make_lock())))
    pylock.validate()
    assert str(pylock.lock_version) == "1.0"
    assert pylock.created_by == "kbundle"
    assert [str(m) for m in pylock.environments or ()] == [MARKER]
    assert str(pylock.requires_python) == "==3.11.13"
    assert pylock.extras == []
    assert pylock.dependency_groups == []
    assert pylock.default_groups == []


def test_only_vendored_and_built_packages_are_pep_751_packages() -> None:
    doc = document()
    assert [p["name"] for p in doc["packages"]] == ["matplotlib", "pyparsing", "seaborn", "tinysrc"]
    tool = doc["tool"]["kbundle"]
    assert tool["image"] == {"numpy": "2.0.2", "pandas": "2.2.2"}
    assert tool["shadowed"] == {"matplotlib": "3.7.5"}
    assert tool["build"] == ["tinysrc"]
    assert tool["requirements"] == ["seaborn>=0.13", "tinysrc"]
    assert tool["target"] == "kaggle-cpu-2026"
    assert tool["fingerprint"] == "sha256:0123456789abcdef"
    assert tool["kbundle-version"] == "0.1.0"
    assert tool["cuda-index"] == ["torch"]  # Lock.extra, verbatim


def test_dependencies_split_between_packages_and_image_dependencies() -> None:
    doc = document()
    # packages.dependencies names only [[packages]] entries ...
    assert package(doc, "seaborn")["dependencies"] == [{"name": "matplotlib"}]
    assert package(doc, "matplotlib")["dependencies"] == [{"name": "pyparsing"}]
    assert "dependencies" not in package(doc, "pyparsing")
    # ... the edges that touch the image are kbundle's.
    assert doc["tool"]["kbundle"]["image-dependencies"] == {
        "matplotlib": ["numpy"],
        "pandas": ["numpy"],
        "seaborn": ["numpy", "pandas"],
        "tinysrc": ["numpy"],
    }


def test_files_carry_name_url_size_upload_time_and_hash() -> None:
    doc = document()
    [whl] = package(doc, "matplotlib")["wheels"]
    assert whl["name"].startswith("matplotlib-3.9.0-cp311")
    assert whl["url"] == f"{FILES}/{whl['name']}"
    assert whl["size"] == 1000 + len(whl["name"])
    assert whl["hashes"] == {"sha256": sha("1")}
    assert whl["upload-time"].isoformat() == "2024-05-15T23:37:48.123456+00:00"  # a TOML datetime
    sdist = package(doc, "tinysrc")["sdist"]
    assert sdist == {
        "name": "tinysrc-1.0.tar.gz",
        "url": f"{FILES}/tinysrc-1.0.tar.gz",
        "size": 1018,
        "hashes": {"sha256": sha("4")},
    }
    assert "wheels" not in package(doc, "tinysrc")
    assert package(doc, "matplotlib")["index"] == "https://pypi.org/simple"
    assert package(doc, "matplotlib")["requires-python"] == ">=3.9"


def test_select_picks_the_vendored_wheels_on_the_target() -> None:
    pylock = Pylock.from_dict(loads(render_lock(make_lock())))
    selected = {
        str(p.name): f for p, f in pylock.select(environment=target_environment(), tags=TARGET_TAGS)
    }
    assert isinstance(selected["tinysrc"], PackageSdist)
    wheels = {name: f for name, f in selected.items() if isinstance(f, PackageWheel)}
    assert sorted(wheels) == ["matplotlib", "pyparsing", "seaborn"]
    chosen = {name: f.filename for name, f in wheels.items()}
    chosen["tinysrc"] = selected["tinysrc"].filename
    assert chosen == {
        "matplotlib": "matplotlib-3.9.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pyparsing": "pyparsing-3.1.2-py3-none-any.whl",
        "seaborn": "seaborn-0.13.2-py3-none-any.whl",
        "tinysrc": "tinysrc-1.0.tar.gz",
    }


def test_select_refuses_another_platform() -> None:
    pylock = Pylock.from_dict(loads(render_lock(make_lock())))
    mac = cast(Environment, {**default_markers("3.11.13", "arm64"), "sys_platform": "darwin"})
    with pytest.raises(PylockSelectError, match="environments"):
        list(pylock.select(environment=mac, tags=TARGET_TAGS))
    # Right environment, but tags no wheel of matplotlib matches.
    with pytest.raises(PylockSelectError, match="matplotlib"):
        list(pylock.select(environment=target_environment(), tags=[Tag("py3", "none", "any")]))


# ------------------------------------------------------------------ determinism


def test_render_is_deterministic() -> None:
    assert render_lock(make_lock()) == render_lock(make_lock())
    text = render_lock(make_lock())
    assert "created" not in text.split("[tool.kbundle]")[0].replace("created-by", "")


def test_render_is_stable_under_input_order() -> None:
    lock = make_lock()
    rng = random.Random(7)
    for _ in range(5):
        packages = list(lock.packages)
        rng.shuffle(packages)
        shuffled = tuple(
            dataclasses.replace(
                p, dependencies=tuple(rng.sample(p.dependencies, len(p.dependencies)))
            )
            for p in packages
        )
        extra = dict(reversed(list(lock.extra.items())))
        assert render_lock(make_lock(packages=shuffled, extra=extra)) == render_lock(lock)
        assert render_requirements_txt(make_lock(packages=shuffled)) == render_requirements_txt(
            lock
        )


GOLDEN_LOCK = f"""\
# This file is generated by kbundle; do not edit it by hand.
# To update it, run `kbundle lock`.
lock-version = "1.0"
environments = [
    "sys_platform == \\"linux\\"",
]
requires-python = "==3.11.13"
extras = []
dependency-groups = []
default-groups = []
created-by = "kbundle"

[[packages]]
name = "six"
version = "1.16.0"

[[packages.wheels]]
name = "six-1.16.0-py2.py3-none-any.whl"
url = "https://x/six.whl"

[packages.wheels.hashes]
sha256 = "{sha("a")}"

[tool.kbundle]
target = "t"
fingerprint = "sha256:00"
kbundle-version = "0.1.0"
requirements = [
    "six",
]
build = []

[tool.kbundle.image]
numpy = "2.0.2"

[tool.kbundle.shadowed]

[tool.kbundle.image-dependencies]
"""


def test_golden_lock() -> None:
    lock = Lock(
        target_name="t",
        target_fingerprint="sha256:00",
        requires_python="==3.11.13",
        marker='sys_platform == "linux"',
        requirements=("six",),
        packages=(
            LockedPackage("numpy", "2.0.2", "image"),
            LockedPackage(
                "six",
                "1.16.0",
                "vendor",
                wheel=Artifact(
                    "https://x/six.whl", "six-1.16.0-py2.py3-none-any.whl", sha("a"), None
                ),
            ),
        ),
        kbundle_version="0.1.0",
    )
    assert render_lock(lock) == GOLDEN_LOCK
    assert parse_lock(GOLDEN_LOCK, SRC) == lock


# ------------------------------------------------------------------ round trip


def test_round_trip() -> None:
    lock = make_lock()
    again = parse_lock(render_lock(lock), SRC)
    assert again == lock
    assert again.image == lock.image
    assert again.extra == lock.extra


def test_round_trip_of_a_lock_with_only_image_packages() -> None:
    lock = make_lock(
        packages=(LockedPackage("numpy", "2.0.2", "image"),), requirements=("numpy",), extra={}
    )
    text = render_lock(lock)
    assert "packages = []" in text
    Pylock.from_dict(loads(text)).validate()
    assert parse_lock(text, SRC) == lock


def test_read_lock(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_bytes(b"\xef\xbb\xbf" + render_lock(make_lock()).encode())
    assert read_lock(path) == make_lock()


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("2024-03-06T06:30:27Z", "2024-03-06T06:30:27Z"),
        ("2024-03-06T06:30:27.5Z", "2024-03-06T06:30:27.500000Z"),
        ("2024-03-06T06:30:27.123456789Z", "2024-03-06T06:30:27.123456Z"),
        ("2024-03-06T08:30:27+02:00", "2024-03-06T06:30:27Z"),
        ("2024-03-06 06:30:27", "2024-03-06T06:30:27Z"),
    ],
)
def test_upload_times_are_normalised_to_utc(written: str, read: str) -> None:
    pkg = LockedPackage(
        "six", "1.16.0", "vendor", wheel=wheel("six-1.16.0-py3-none-any.whl", sha("a"), written)
    )
    lock = make_lock(packages=(pkg,), requirements=("six",))
    [again] = parse_lock(render_lock(lock), SRC).packages
    assert again.wheel is not None
    assert again.wheel.upload_time == read


# ------------------------------------------------------------------ render errors


def _vendored(name: str = "six", **changes: Any) -> LockedPackage:
    values: dict[str, Any] = {
        "name": name,
        "version": "1.16.0",
        "source": "vendor",
        "wheel": wheel(f"{name}-1.16.0-py3-none-any.whl", sha("a")),
    }
    values.update(changes)
    return LockedPackage(**values)


@pytest.mark.parametrize(
    ("packages", "extra", "message"),
    [
        ((_vendored(wheel=None),), {}, "six is vendored but has no wheel"),
        ((_vendored(source="build"),), {}, "six is to be built but has no sdist"),
        (
            (
                _vendored(
                    wheel=Artifact("https://x/six.whl", "six-1.16.0-py3-none-any.whl", None, 1)
                ),
            ),
            {},
            "has no sha256",
        ),
        ((_vendored(dependencies=("nope",)),), {}, "six depends on nope, which is not in the lock"),
        ((_vendored(), _vendored()), {}, "it has six twice"),
        ((_vendored(),), {"image": {}}, "reserved key 'image'"),
        ((_vendored(),), {"when": object()}, "not TOML serializable"),
        (
            (_vendored(wheel=wheel("six-1.16.0-py3-none-any.whl", sha("a"), "yesterday")),),
            {},
            "'yesterday' of six-1.16.0-py3-none-any.whl is not an RFC 3339",
        ),
        (
            (_vendored(wheel=wheel("other-1.0-py3-none-any.whl", sha("a"))),),
            {},
            "not be valid PEP 751",
        ),
    ],
)
def test_render_refuses_an_invalid_lock(
    packages: tuple[LockedPackage, ...], extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(KbundleError, match="cannot write the lock") as info:
        render_lock(make_lock(packages=packages, extra=extra, requirements=()))
    assert message in str(info.value)


# ------------------------------------------------------------------ parse errors


def parse_error(text: str, source: str = SRC) -> InputError:
    with pytest.raises(InputError) as info:
        parse_lock(text, source)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"{source}: ")
    return info.value


Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    """An edit of the rendered document: ``path`` is dotted, with ``[i]`` for lists."""

    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            name, _, index = part.partition("[")
            node = node[name] if not index else node[name][int(index[:-1])]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return edit


def _both(*edits: Edit) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        for one in edits:
            one(doc)

    return edit


def _drop_tool(doc: dict[str, Any]) -> None:
    del doc["tool"]


# Package order in the rendered document: matplotlib, pyparsing, seaborn, tinysrc.
ONE_WHEEL = {
    "name": "pyparsing-3.1.2-py3-none-any.whl",
    "url": "https://x/a.whl",
    "hashes": {"sha256": "0" * 64},
}
PARSE_ERRORS = [
    pytest.param(_drop_tool, "is not a kbundle lock: it has no [tool.kbundle] table", id="no-tool"),
    pytest.param(
        _set("packages[0].wheels[0].hashes", None),
        "'packages[0].wheels[0].hashes' (package matplotlib): Missing required value",
        id="no-hashes",
    ),
    pytest.param(
        _set("packages[1].wheels[0].hashes", {}),
        "key 'packages[1].wheels[0].hashes' (package pyparsing)",
        id="empty-hashes",
    ),
    pytest.param(
        _set("packages[2].name", "Seaborn"), "key 'packages[2].name'", id="name-not-normalized"
    ),
    pytest.param(
        _set("packages[1].wheels[0].name", "pyparsing-9-py3-none-any.whl"),
        "key 'packages[1].wheels[0]'",
        id="wheel-of-another-version",
    ),
    pytest.param(
        _set("packages[1].wheels[0].size", "big"),
        "key 'packages[1].wheels[0].size'",
        id="bad-size-type",
    ),
    pytest.param(
        _set("environments", ["linux !!"]),
        "key 'environments[0]': Expected a marker variable or quoted string. Run",
        id="bad-marker",
    ),
    pytest.param(
        _set("created-by", None), "key 'created-by': Missing required value", id="no-created-by"
    ),
    pytest.param(_set("lock-version", "2.0"), "key 'lock-version' is '2.0'", id="lock-version"),
    pytest.param(
        _set("environments", [MARKER, MARKER]),
        "key 'environments' must hold exactly one marker",
        id="two-environments",
    ),
    pytest.param(
        _set("requires-python", None), "key 'requires-python' is required", id="no-requires-python"
    ),
    pytest.param(
        _set("tool.kbundle.target", None), "key 'tool.kbundle.target' is required", id="no-target"
    ),
    pytest.param(
        _set("tool.kbundle.fingerprint", None),
        "key 'tool.kbundle.fingerprint' is required",
        id="no-fingerprint",
    ),
    pytest.param(
        _set("tool.kbundle.requirements", "numpy"),
        "key 'tool.kbundle.requirements' must be a list",
        id="requirements-type",
    ),
    pytest.param(
        _set("tool.kbundle.requirements", ["numpy >>> 2"]),
        "key 'tool.kbundle.requirements' holds 'numpy >>> 2'",
        id="bad-requirement",
    ),
    pytest.param(
        _set("tool.kbundle.image", {"numpy": 2}),
        "key 'tool.kbundle.image.numpy' must be a string",
        id="image-version-type",
    ),
    pytest.param(
        _set("tool.kbundle.image", {"seaborn": "0.1"}),
        "key 'tool.kbundle.image.seaborn' is also in [[packages]]",
        id="image-and-package",
    ),
    pytest.param(
        _set("tool.kbundle.build", ["tinysrc", "ghost"]),
        "key 'tool.kbundle.build' names ghost",
        id="build-stray",
    ),
    pytest.param(
        _set("tool.kbundle.shadowed", {"ghost": "1"}),
        "key 'tool.kbundle.shadowed' names ghost",
        id="shadowed-stray",
    ),
    pytest.param(
        _set("tool.kbundle.build", ["tinysrc", "seaborn"]),
        "key 'packages[2].sdist' is required",
        id="built-without-sdist",
    ),
    pytest.param(
        _set("tool.kbundle.build", []),
        "key 'packages[3].wheels' is required",
        id="vendored-without-wheel",
    ),
    pytest.param(
        _set("packages[1].wheels", [ONE_WHEEL, ONE_WHEEL]),
        "key 'packages[1].wheels' holds more than one wheel",
        id="two-wheels",
    ),
    pytest.param(
        _set("packages[1].wheels[0].url", None),
        "'packages[1].wheels[0]' (package pyparsing): path or url must be provided",
        id="no-url-or-path",
    ),
    pytest.param(
        _both(
            _set("packages[1].wheels[0].path", "w/pyparsing-3.1.2-py3-none-any.whl"),
            _set("packages[1].wheels[0].url", None),
        ),
        "key 'packages[1].wheels[0].url' is required",
        id="path-not-url",
    ),
    pytest.param(
        _set("packages[1].wheels[0].hashes", {"sha512": "0" * 128}),
        "key 'packages[1].wheels[0].hashes.sha256' is required",
        id="only-sha512",
    ),
    pytest.param(
        _set("packages[1].marker", "os_name == 'nt'"),
        "key 'packages[1].marker' is not a known setting",
        id="package-marker",
    ),
    pytest.param(
        _set("packages[1].version", None), "key 'packages[1].version' is required", id="no-version"
    ),
    pytest.param(
        _set("packages[0].dependencies", [{"version": "1"}]),
        "key 'packages[0].dependencies[0].name' is required",
        id="dependency-without-name",
    ),
    pytest.param(
        _set("packages[0].dependencies", [{"name": "ghost"}]),
        "key 'packages[0].dependencies[0].name' is ghost, which is not in the lock",
        id="unknown-dependency",
    ),
    pytest.param(
        _set("tool.kbundle.image-dependencies.pandas", ["ghost"]),
        "key 'tool.kbundle.image-dependencies.pandas' names ghost, which is not in the lock",
        id="unknown-image-dependency",
    ),
    pytest.param(
        _set("tool.kbundle.image-dependencies.ghost", ["numpy"]),
        "'tool.kbundle.image-dependencies.ghost' is not a package of the lock",
        id="stray-image-dependencies",
    ),
    pytest.param(
        lambda d: d["packages"].append(d["packages"][0]),
        "key 'packages' has matplotlib more than once",
        id="duplicate-package",
    ),
]


@pytest.mark.parametrize(("edit", "message"), PARSE_ERRORS)
def test_parse_errors_name_the_file_and_key(edit: Edit, message: str) -> None:
    doc = document()
    edit(doc)
    error = parse_error(tomli_w.dumps(doc))
    assert message in str(error)


def test_invalid_pep_751_says_to_relock() -> None:
    doc = document()
    del doc["packages"][0]["wheels"][0]["hashes"]
    assert "Run `kbundle lock` to write the lock again." in str(parse_error(tomli_w.dumps(doc)))


def test_not_toml() -> None:
    assert "is not valid TOML" in str(parse_error("lock-version = \n"))


def test_another_tools_lock_is_not_a_kbundle_lock() -> None:
    text = """\
lock-version = "1.0"
created-by = "uv"
[[packages]]
name = "six"
version = "1.16.0"
wheels = [{ url = "https://x/six-1.16.0-py3-none-any.whl", hashes = { sha256 = "00" } }]
"""
    error = parse_error(text, "uv/pylock.toml")
    assert "not a kbundle lock" in str(error)
    assert "kbundle lock" in (error.hint or "")


def test_read_lock_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "pylock.toml"
    with pytest.raises(InputError, match="the lock file does not exist") as info:
        read_lock(missing)
    assert str(missing) in str(info.value)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="is not UTF-8 text") as info:
        read_lock(bad)
    assert str(bad) in str(info.value)


# ------------------------------------------------------------------ requirements.txt export

GOLDEN_REQUIREMENTS = f"""\
#
# This file is autogenerated by kbundle 0.1.0 for target kaggle-cpu-2026 (sha256:0123456789abcdef)
# To update, run:
#
#    kbundle lock
#
matplotlib==3.9.0 \\
    --hash=sha256:{sha("1")}
    # via seaborn
    # replaces the image's matplotlib==3.7.5
pyparsing==3.1.2 \\
    --hash=sha256:{sha("2")}
    # via matplotlib
seaborn==0.13.2 \\
    --hash=sha256:{sha("3")}
    # via -r requirements
tinysrc==1.0 \\
    --hash=sha256:{sha("4")}
    # via -r requirements

# The following packages are provided by the image; do not install them:
# numpy==2.0.2  (provided by the image)
# pandas==2.2.2  (provided by the image)
"""


def test_requirements_export_golden() -> None:
    assert render_requirements_txt(make_lock()) == GOLDEN_REQUIREMENTS


def test_requirements_export_with_sources_and_several_parents() -> None:
    lock = make_lock(requirements=("seaborn>=0.13", "tinysrc", "pyparsing"))
    text = render_requirements_txt(
        lock,
        command="kbundle lock -r requirements.txt",
        sources={
            "seaborn": ["-r requirements.txt"],
            "PyParsing": ["-c constraints.txt", "-r requirements.txt"],
        },
    )
    assert "#    kbundle lock -r requirements.txt\n" in text
    assert (
        f"pyparsing==3.1.2 \\\n    --hash=sha256:{sha('2')}\n"
        "    # via\n    #   -c constraints.txt\n    #   -r requirements.txt\n    #   matplotlib\n"
    ) in text
    assert (
        f"seaborn==0.13.2 \\\n    --hash=sha256:{sha('3')}\n    # via -r requirements.txt\n" in text
    )
    # tinysrc is not in sources: only its parents (none here) would be named.
    assert f"tinysrc==1.0 \\\n    --hash=sha256:{sha('4')}\nmatplotlib" not in text
    assert text.index("tinysrc==1.0") > text.index("seaborn==0.13.2")


def test_requirements_export_is_usable_by_pip() -> None:
    """Every requirement is pinned and hashed; image packages are comments only."""
    text = render_requirements_txt(make_lock())
    lines = text.splitlines()
    requirements = [line for line in lines if line and not line.startswith((" ", "#"))]
    assert requirements == [
        "matplotlib==3.9.0 \\",
        "pyparsing==3.1.2 \\",
        "seaborn==0.13.2 \\",
        "tinysrc==1.0 \\",
    ]
    assert not any(line.startswith(("numpy", "pandas")) for line in lines)
    # A continuation never runs into a comment line (pip-tools issue #1063).
    for line, following in itertools.pairwise(lines):
        if line.endswith("\\"):
            assert following.lstrip().startswith("--hash=")


def test_requirements_export_refuses_a_file_without_hash() -> None:
    pkg = _vendored(wheel=Artifact("https://x/six.whl", "six-1.16.0-py3-none-any.whl", None, 1))
    with pytest.raises(KbundleError, match="no file hash for it"):
        render_requirements_txt(make_lock(packages=(pkg,)))


def test_requirements_export_reads_back_as_hash_pinned_requirements() -> None:
    """Our own pip-syntax reader accepts the export: pins and hashes survive."""
    result = parse_requirements_text(render_requirements_txt(make_lock()), "x.txt", Path(), env={})
    assert [(str(r.requirement), r.hashes, r.line) for r in result.requirements] == [
        ("matplotlib==3.9.0", (f"sha256:{sha('1')}",), 7),
        ("pyparsing==3.1.2", (f"sha256:{sha('2')}",), 11),
        ("seaborn==0.13.2", (f"sha256:{sha('3')}",), 14),
        ("tinysrc==1.0", (f"sha256:{sha('4')}",), 17),
    ]
