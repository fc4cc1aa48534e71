"""Project configuration: the ``[tool.kbundle]`` table of ``pyproject.toml``.

Command-line options override it; relative paths in it are relative to the
``pyproject.toml`` that holds it, so commands work from any sub-folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from packaging.utils import canonicalize_name

from bundler.errors import InputError
from bundler.toml_table import Table, load_toml

T = TypeVar("T")

KNOWN_KEYS = frozenset(
    {
        "target",
        "manifest",
        "requirements",
        "requirements-files",
        "lock",
        "lib",
        "index-url",
        "extra-index-urls",
        "find-links",
        "index-pins",
        "build",
        "cuda-index",
        "offline-env",
        "keep",
        "strict-image",
    }
)


@dataclass(frozen=True)
class Config:
    """Settings from ``[tool.kbundle]``; empty defaults when there is none.

    ``index_pins`` maps a canonical package name to the one index URL it may
    come from (the guard against dependency confusion); ``build`` lists the
    packages allowed to be built from source (``":all:"`` for every one);
    ``keep`` image packages fixed at the image's version and ``strict_image``
    the whole-image consistency rule (see :mod:`bundler.resolve.shadowing`).
    """

    path: Path | None = None
    target: str | None = None
    manifest: Path | None = None
    requirements: tuple[str, ...] = ()
    requirements_files: tuple[Path, ...] = ()
    lock: Path | None = None
    lib: Path | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    index_pins: dict[str, str] = field(default_factory=dict)
    build: tuple[str, ...] = ()
    cuda_index: tuple[str, ...] = ()
    #: kbundle_boot sets the libraries' offline switches (bundler/vendor/offline_env.py).
    offline_env: bool = True
    keep: tuple[str, ...] = ()
    strict_image: bool = False

    @property
    def root(self) -> Path:
        """The project folder: the one holding ``pyproject.toml``, else the current one."""
        return self.path.parent if self.path is not None else Path.cwd()

    def lock_path(self, target_name: str) -> Path:
        """``lock``, else ``lockfiles/pylock.<target>.toml`` in the project."""
        return self.lock or self.root / "lockfiles" / f"pylock.{target_name}.toml"

    def lib_path(self) -> Path:
        """``lib``, else ``submission/lib`` in the project."""
        return self.lib or self.root / "submission" / "lib"


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` or a parent folder."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(pyproject: Path | None) -> Config:
    """Read ``[tool.kbundle]`` from ``pyproject`` (``None``: no configuration)."""
    if pyproject is None:
        return Config()
    doc = load_toml(pyproject)
    tool = Table(doc, str(pyproject)).get_table("tool")
    if "kbundle" not in tool.data:
        return Config(path=pyproject)
    table = tool.get_table("kbundle")
    base = pyproject.parent
    # Validate fully, report once: every bad key in one message, not the first.
    problems: list[str] = []

    def get(read: Callable[[], T], default: T) -> T:
        try:
            return read()
        except InputError as exc:
            problems.append(str(exc).removeprefix(f"{pyproject}: ").rstrip("."))
            return default

    def path(key: str) -> Path | None:
        value = get(lambda: table.get_str(key), None)
        return _join(base, value) if value else None

    def strings(key: str) -> list[str]:
        return get(lambda: table.get_str_list(key), [])

    get(lambda: table.reject_unknown(KNOWN_KEYS), None)
    pins: dict[str, str] = get(lambda: table.get_str_map("index-pins"), {})
    config = Config(
        path=pyproject,
        target=_target_spec(get(lambda: table.get_str("target"), None), base),
        manifest=path("manifest"),
        requirements=tuple(strings("requirements")),
        requirements_files=tuple(_join(base, p) for p in strings("requirements-files")),
        lock=path("lock"),
        lib=path("lib"),
        index_url=get(lambda: table.get_str("index-url"), None),
        extra_index_urls=tuple(strings("extra-index-urls")),
        find_links=tuple(_local_or_url(v, base) for v in strings("find-links")),
        index_pins={str(canonicalize_name(k)): v for k, v in pins.items()},
        build=tuple(_names(strings("build"))),
        cuda_index=tuple(_names(strings("cuda-index"))),
        offline_env=get(lambda: table.get_bool("offline-env", default=True), True),
        keep=tuple(_names(strings("keep"))),
        strict_image=get(lambda: table.get_bool("strict-image"), False),
    )
    if len(problems) == 1:
        raise InputError(problems[0], source=str(pyproject))
    if problems:
        raise InputError(
            f"{len(problems)} problems in [tool.kbundle]: " + "; ".join(problems),
            source=str(pyproject),
            hint="Fix them all, then run again.",
        )
    return config


def _target_spec(value: str | None, base: Path) -> str | None:
    # A target may be a preset name or a file; only a file path is relative.
    if value and ("/" in value or value.endswith((".toml", ".json"))):
        return str(_join(base, value))
    return value


def _local_or_url(value: str, base: Path) -> str:
    return value if "://" in value else str(_join(base, value))


def _join(base: Path, value: str) -> Path:
    # Lexically normalised: `lock = "../../lockfiles/x.toml"` is shown and
    # used as lockfiles/x.toml, not examples/llama_agent/../../lockfiles/x.toml.
    return Path(os.path.normpath(base / value))


def _names(values: list[str]) -> list[str]:
    return [v if v == ":all:" else str(canonicalize_name(v)) for v in values]
