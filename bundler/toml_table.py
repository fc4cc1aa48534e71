"""Typed, key-naming access to TOML tables (target files and ``[tool.kbundle]``).

TOML gives untyped dicts; every wrong type or unknown key must become an
:class:`InputError` that names the file and the full dotted key, so this is
the one place that checks them. It is also the one place that picks the TOML
reader (``tomllib``, or ``tomli`` on Python 3.10): modules that parse TOML
with their own error handling import ``tomllib`` from here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bundler.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    # Only installed on 3.10, where mypy (checking as 3.10) may not find it.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["Table", "load_toml", "parse_toml", "tomllib"]


def load_toml(path: Path) -> dict[str, Any]:
    """Read and parse a TOML file; errors name the file and the position."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", source=str(path)) from exc
    return parse_toml(data, str(path))


def parse_toml(data: bytes, source: str) -> dict[str, Any]:
    """Parse TOML bytes (a UTF-8 BOM is tolerated)."""
    try:
        text = data.decode("utf-8-sig")
        doc: dict[str, Any] = tomllib.loads(text)
        return doc
    except UnicodeDecodeError as exc:
        raise InputError("is not UTF-8 text", source=source) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"is not valid TOML: {exc}", source=source) from exc


class Table:
    """A TOML table with the file it came from and its dotted prefix."""

    def __init__(self, data: Mapping[str, Any], source: str, prefix: str = "") -> None:
        self.data = data
        self.source = source
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def error(self, name: str, message: str, hint: str | None = None) -> InputError:
        return InputError(f"key '{self.key(name)}' {message}", source=self.source, hint=hint)

    def reject_unknown(self, known: set[str] | frozenset[str]) -> None:
        """Unknown keys are errors: a typo must not be silently ignored."""
        unknown = sorted(set(self.data) - known)
        if len(unknown) == 1:
            raise self.error(
                unknown[0],
                "is not a known setting",
                hint="Known keys: " + ", ".join(sorted(known)) + ".",
            )
        if unknown:
            names = ", ".join(f"'{self.key(k)}'" for k in unknown)
            raise InputError(
                f"keys {names} are not known settings",
                source=self.source,
                hint="Known keys: " + ", ".join(sorted(known)) + ".",
            )

    def get_str(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name, default)
        if value is not None and not isinstance(value, str):
            raise self.error(name, f"must be a string, not {type(value).__name__}")
        return value

    def require_str(self, name: str) -> str:
        value = self.get_str(name)
        if not value:
            raise self.error(name, "is required")
        return value

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"must be true or false, not {value!r}")
        return value

    def get_int(self, name: str, *, minimum: int = 0) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(name, f"must be a whole number of at least {minimum}, not {value!r}")
        return value

    def get_str_list(self, name: str) -> list[str]:
        value = self.data.get(name, [])
        if isinstance(value, str):
            raise self.error(name, f'must be a list of strings, e.g. ["{value}"]')
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "must be a list of strings")
        return list(value)

    def get_table(self, name: str) -> Table:
        value = self.data.get(name, {})
        if not isinstance(value, Mapping):
            raise self.error(name, "must be a table")
        return Table(value, self.source, f"{self.key(name)}.")

    def get_str_map(self, name: str) -> dict[str, str]:
        sub = self.get_table(name)
        for k, v in sub.data.items():
            if not isinstance(v, str):
                raise sub.error(k, f"must be a string, not {type(v).__name__}")
        return dict(sub.data)
