"""Target presets shipped with kbundle, and the lookup of a target by name or file.

Each preset is a target TOML file in this folder (see :mod:`bundler.target.file`),
citing its sources in comments; larger package lists sit beside it as the
real ``pip freeze`` files they came from.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from importlib import resources
from pathlib import Path

from bundler.errors import InputError, KbundleError
from bundler.inputs import check_project_name
from bundler.target.file import load_target_file, parse_target_toml
from bundler.target.manifest import Manifest, load_manifest
from bundler.target.model import IndexFacts, Target
from bundler.toml_table import Table, parse_toml

DEFAULT_TARGET = "kaggle-gpu-2026"
#: Beside ``<preset>.toml``: the requirements of its image packages, from the
#: index (written by ``tools/image_requires.py``; see :class:`IndexFacts`).
IMAGE_REQUIRES_SUFFIX = ".image-requires.json"


def preset_folder() -> Path:
    return Path(str(resources.files(__package__)))


@cache
def _preset_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(preset_folder().glob("*.toml"))}


@cache
def _aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for name, path in _preset_files().items():
        doc = parse_toml(path.read_bytes(), str(path))
        for alias in Table(doc, str(path)).get_str_list("aliases"):
            aliases[alias] = name
    return aliases


def preset_names() -> list[str]:
    """Preset names, sorted."""
    return sorted(_preset_files())


def aliases_of(name: str) -> list[str]:
    return sorted(alias for alias, target in _aliases().items() if target == name)


@cache
def load_preset(name: str) -> Target:
    """A preset by name or alias; :class:`InputError` listing them otherwise."""
    name = _aliases().get(name, name)
    path = _preset_files().get(name)
    if path is None:
        known = ", ".join(preset_names() + sorted(_aliases()))
        raise InputError(
            f"no target preset or file named '{name}'",
            hint=f"Presets: {known}. Or give the path of a target file "
            "(`kbundle target capture -o FILE` writes one).",
        )
    target = parse_target_toml(parse_toml(path.read_bytes(), str(path)), str(path), path.parent)
    facts = _index_facts(path.with_name(path.stem + IMAGE_REQUIRES_SUFFIX))
    return replace(target, index_facts=facts) if facts else target


def _index_facts(path: Path) -> dict[str, IndexFacts]:
    """The preset's recorded index facts ({} when the file is absent)."""
    if not path.is_file():
        return {}
    try:
        packages = json.loads(path.read_text())["packages"]
        return {
            name: IndexFacts(
                str(entry["version"]),
                tuple(entry["requires"]) if entry["requires"] is not None else None,
                entry.get("wheel_size"),
            )
            for name, entry in packages.items()
            if entry.get("version") is not None
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Package data kbundle ships: broken means a broken install, not bad input.
        raise KbundleError(f"{path}: unreadable image requirements ({exc})") from exc


def load_target(
    spec: str | None,
    manifest: Path | None = None,
    preloaded: str | None = None,
    *,
    installed: tuple[Manifest, str] | None = None,
    consistent: bool = True,
) -> Target:
    """The target a user named: a preset, an alias or a file; default preset if None.

    ``manifest`` (a file) or ``installed`` (a parsed list and where it came
    from) replaces the target's installed list (``--manifest``), and
    ``preloaded`` its preloaded list (``--preloaded``: comma-separated names,
    ``""`` for none). With ``consistent`` the result must be consistent
    (:func:`check_preloaded`); ``kbundle target show`` shows any target as it is.
    """
    spec = spec or DEFAULT_TARGET
    path = Path(spec)
    looks_like_path = "/" in spec or path.suffix in (".toml", ".json")
    target = load_target_file(path) if looks_like_path or path.is_file() else load_preset(spec)
    if manifest is not None:
        installed = (load_manifest(manifest), str(manifest))
    if installed is not None:
        target = target.with_installed(*installed)
    if preloaded is not None:
        target = replace(target, preloaded=parse_preloaded(preloaded))
    if consistent:
        check_preloaded(target)
    return target


def parse_preloaded(text: str) -> tuple[str, ...]:
    """``--preloaded torch,transformers``: canonical names; ``""`` is the empty list."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    return tuple(sorted({check_project_name(n, "--preloaded") for n in names}))


def check_preloaded(target: Target) -> None:
    """A preloaded package the image does not have is a contradiction: say so.

    The host imports a preloaded package from the image before user code
    runs, so it must be in the image's package list. Taken as is, every set
    needing it would fail with a resolution error that hides the cause
    (typically a ``--manifest`` that replaced a preset's packages).
    """
    missing = [name for name in target.preloaded if name not in target.installed]
    if not missing:
        return
    listing = target.sources[-1] if target.sources else target.name
    raise InputError(
        f"target {target.name} says the host preloads {', '.join(missing)}, but its package "
        f"list ({listing}) does not have {'it' if len(missing) == 1 else 'them'}: a preloaded "
        "package is imported from the image, so the image must have it",
        hint="Add the package(s) to the package list, or set the preloaded list with "
        "--preloaded NAMES on lock, vendor and check (--preloaded '' for none).",
    )
