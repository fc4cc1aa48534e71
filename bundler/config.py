"""Project configuration: the ``[tool.kbundle]`` table of ``pyproject.toml``.

Command-line options override it; relative paths in it are relative to the
``pyproject.toml`` that holds it, so commands work from any sub-folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from bundler.toml_table import Table, load_toml

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
    the whole-image consistency rule (see :mod:`bundler.shadowing`).
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
    keep: tuple[str, ...] = ()
    strict_image: bool = False


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
    table.reject_unknown(KNOWN_KEYS)
    base = pyproject.parent

    def path(key: str) -> Path | None:
        value = table.get_str(key)
        return base / value if value else None

    pins = table.get_str_map("index-pins")
    return Config(
        path=pyproject,
        target=_target_spec(table.get_str("target"), base),
        manifest=path("manifest"),
        requirements=tuple(table.get_str_list("requirements")),
        requirements_files=tuple(base / p for p in table.get_str_list("requirements-files")),
        lock=path("lock"),
        lib=path("lib"),
        index_url=table.get_str("index-url"),
        extra_index_urls=tuple(table.get_str_list("extra-index-urls")),
        find_links=tuple(_local_or_url(v, base) for v in table.get_str_list("find-links")),
        index_pins={str(canonicalize_name(k)): v for k, v in pins.items()},
        build=tuple(_names(table.get_str_list("build"))),
        cuda_index=tuple(_names(table.get_str_list("cuda-index"))),
        keep=tuple(_names(table.get_str_list("keep"))),
        strict_image=table.get_bool("strict-image"),
    )


def _target_spec(value: str | None, base: Path) -> str | None:
    # A target may be a preset name or a file; only a file path is relative.
    if value and ("/" in value or value.endswith((".toml", ".json"))):
        return str(base / value)
    return value


def _local_or_url(value: str, base: Path) -> str:
    return value if "://" in value else str(base / value)


def _names(values: list[str]) -> list[str]:
    return [v if v == ":all:" else str(canonicalize_name(v)) for v in values]
