"""The ``[installed]`` table of kbundle's TOML capture and target files, both ways.

Each key is a project name; its value is either a version string (the short
form ``numpy = "2.0.2"``) or a table with optional ``version`` (a string,
``""`` for unknown), ``requires`` (a list of Requires-Dist strings) and ``url``.
:func:`parse_installed_toml` reads a whole file given as a manifest;
:func:`installed_from_table` and :func:`installed_to_table` are the table
itself, for :mod:`bundler.target.file`, which reads and writes the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidName, canonicalize_name

from bundler.errors import InputError
from bundler.target.manifest.dist import InstalledDist, Manifest, normalize_version
from bundler.toml_table import tomllib

__all__ = ["installed_from_table", "installed_to_table", "parse_installed_toml"]

_TOML_LOCATION_RE = re.compile(r"\s*\(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_BARE_TOML_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_installed_toml(text: str, source: str) -> Manifest:
    """Parse a kbundle TOML file and read its ``[installed]`` table."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts the place in the message: "Invalid value (at line 3, column 5)";
        # it becomes the error's line, so the message reads like the other formats'.
        message = str(exc)
        match = _TOML_LOCATION_RE.search(message)
        line = int(match["line"]) if match else None
        if match:
            message = f"{message[: match.start()]} (column {match['column']})"
        raise InputError(f"invalid TOML: {message}.", source=source, line=line) from None
    installed = data.get("installed")
    if installed is None:
        raise InputError(
            "has no [installed] table.",
            source=source,
            hint="A kbundle capture lists the image's distributions under [installed].",
        )
    if not isinstance(installed, dict):
        raise InputError("'installed' must be a table.", source=source)
    return installed_from_table(installed, source)


def installed_from_table(table: Mapping[str, object], source: str) -> Manifest:
    """Read the ``[installed]`` table of a kbundle capture or target TOML file.

    Wrong types, unknown keys and names that differ only in spelling are
    :class:`InputError`s naming the key.
    """
    found: dict[str, tuple[str, InstalledDist]] = {}
    for key, value in table.items():
        where = f"installed.{_toml_key(key)}"
        try:
            name = canonicalize_name(key, validate=True)
        except InvalidName:
            raise InputError(
                f"{where}: {key!r} is not a valid project name.", source=source
            ) from None
        dist = _dist_from_entry(name, value, where, source)
        if name in found and found[name][0] != key:
            other = f"installed.{_toml_key(found[name][0])}"
            raise InputError(
                f"{where} and {other} name the same project {name!r}.",
                source=source,
                hint="Keep one of them.",
            )
        found[name] = (key, dist)
    return {name: found[name][1] for name in sorted(found)}


def installed_to_table(manifest: Manifest) -> dict[str, dict[str, object]]:
    """Turn a manifest into the ``[installed]`` table that :func:`installed_from_table` reads.

    The result is deterministic (sorted by name; ``version``, ``requires``, ``url``
    only when known) and ready for ``tomli_w``. ``requires=()`` is written as an
    empty list so "no requirements" stays distinct from "unknown".
    """
    table: dict[str, dict[str, object]] = {}
    for dist in sorted(manifest.values(), key=lambda d: d.name):
        entry: dict[str, object] = {}
        if dist.version is not None:
            entry["version"] = dist.version
        if dist.requires is not None:
            entry["requires"] = list(dist.requires)
        if dist.url is not None:
            entry["url"] = dist.url
        table[dist.name] = entry
    return table


def _dist_from_entry(name: str, value: object, where: str, source: str) -> InstalledDist:
    """One ``[installed]`` entry: a version string or a table."""
    if isinstance(value, str):
        return InstalledDist(name, _version_or_none(value))
    if not isinstance(value, Mapping):
        raise InputError(
            f"{where} must be a version string or a table, not {_type_name(value)}.", source=source
        )
    unknown = sorted(set(value) - {"version", "requires", "url"})
    if unknown:
        raise InputError(
            f"{where}.{_toml_key(str(unknown[0]))} is not a known key.",
            source=source,
            hint="Known keys: version, requires, url.",
        )
    version = value.get("version", "")
    if not isinstance(version, str):
        raise InputError(
            f"{where}.version must be a string, not {_type_name(version)}.", source=source
        )
    url = value.get("url")
    if url is not None and not isinstance(url, str):
        raise InputError(f"{where}.url must be a string, not {_type_name(url)}.", source=source)
    return InstalledDist(
        name,
        _version_or_none(version),
        requires=_requires_from_entry(value.get("requires"), where, source),
        url=url,
    )


def _requires_from_entry(value: object, where: str, source: str) -> tuple[str, ...] | None:
    """Validate an entry's ``requires`` list (each a PEP 508 string), kept verbatim."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError(
            f"{where}.requires must be a list of strings, not {_type_name(value)}.", source=source
        )
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InputError(
                f"{where}.requires[{index}] must be a string, not {_type_name(item)}.",
                source=source,
            )
        try:
            Requirement(item)
        except InvalidRequirement as exc:
            raise InputError(
                f"{where}.requires[{index}] {item!r} is not a valid requirement: "
                f"{str(exc).splitlines()[0]}.",
                source=source,
            ) from None
    return tuple(value)


def _version_or_none(text: str) -> str | None:
    return normalize_version(text) if text.strip() else None


def _toml_key(key: str) -> str:
    """Render ``key`` as it would appear in a TOML dotted key."""
    return key if _BARE_TOML_KEY_RE.match(key) else json.dumps(key)


def _type_name(value: object) -> str:
    """How to call a TOML value's type in a message."""
    if isinstance(value, Mapping):
        return "a table"
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        list: "a list",
    }
    return names.get(type(value), type(value).__name__)
