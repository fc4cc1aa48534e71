"""Image manifests: which distributions a fixed target image already has installed.

A manifest maps each PEP 503-canonical project name to an :class:`InstalledDist`.
:func:`parse_manifest` reads one from text and detects the format from the
content; each format is one module of this package:

``pip freeze`` / ``pip list --format=freeze``
    :mod:`.freeze` (the line syntax shared with requirement files).
``pip list --format=json``
    :mod:`.json_list`.
kbundle's own TOML capture/target files
    :mod:`.installed_table`, the ``[installed]`` table.
Dockerfile/config pins
    :mod:`.pins`, ``KEY_VERSION=value`` lines; used only when the text has no
    freeze requirement lines.

:func:`load_manifest` reads a file, and :func:`load_manifest_from` a file or
an http(s) URL (``kbundle check --manifest``: an image's published list).
Files may carry a UTF-8 BOM and CRLF line endings. Every problem is an
:class:`~bundler.errors.InputError` naming the source and, where there is one,
the 1-based line. The names below are the package's public surface; the format
modules are its implementation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

from bundler.errors import InputError
from bundler.inputs import check_url
from bundler.pip_lines import drop_bom, is_comment_line, split_lines, strip_comment
from bundler.target.manifest.dist import InstalledDist, Manifest
from bundler.target.manifest.freeze import looks_like_requirement, parse_freeze
from bundler.target.manifest.installed_table import (
    installed_from_table,
    installed_to_table,
    parse_installed_toml,
)
from bundler.target.manifest.json_list import parse_json_list
from bundler.target.manifest.pins import is_pin_line, parse_pins

if TYPE_CHECKING:
    from bundler.net.transport import Response

__all__ = [
    "InstalledDist",
    "Manifest",
    "installed_from_table",
    "installed_to_table",
    "load_manifest",
    "load_manifest_from",
    "parse_manifest",
]

# A `[installed]` / `[installed.name]` table header anywhere marks a kbundle TOML file,
# even when top-level keys come before it.
_INSTALLED_HEADER_RE = re.compile(r"^\s*\[\s*installed\s*[.\]]", re.MULTILINE)
# A TOML table or array-of-tables header line: `[installed]`, `[[x.y]]`, `["a b"]`.
_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_TOML_HEADER_RE = re.compile(rf"^\[\[?\s*{_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*\s*\]\]?\s*(?:#.*)?$")

_Format: TypeAlias = Literal["freeze", "json", "toml", "pins"]


class Getter(Protocol):
    """The part of :class:`~bundler.net.client.HttpClient` a manifest URL needs."""

    def get(self, url: str) -> Response:
        """A complete response for ``url`` (any status), possibly from the cache."""
        ...


def load_manifest(path: Path) -> Manifest:
    """Read and parse the image manifest at ``path`` (any format :func:`parse_manifest` knows).

    Raises :class:`InputError` naming the file if it is missing, unreadable or not
    UTF-8 text, or if its content cannot be parsed.
    """
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file.", source=source) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a manifest file.", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}.", source=source) from None
    return parse_manifest(_decode_utf8(data, source), source)


def load_manifest_from(spec: str, client: Getter | None = None) -> tuple[Manifest, str]:
    """The manifest at ``spec``, a file or a URL, and the source to name it by.

    An http(s) URL is fetched with ``client`` (default: an
    :class:`~bundler.net.client.HttpClient`, so through kbundle's cache); a
    ``file://`` URL or anything else is a path, read by :func:`load_manifest`.
    """
    if "://" in spec and not spec.startswith("file://"):
        check_url(spec, "--manifest")
        if client is None:
            # Imported here: only a URL needs the network stack, and every
            # target load imports this package.
            from bundler.net.client import HttpClient

            client = HttpClient()
        response = client.get(spec)
        response.raise_for_status()
        try:
            text = response.body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError("is not UTF-8 text", source=spec) from exc
        return parse_manifest(text, spec), spec
    path = Path(spec.removeprefix("file://"))
    return load_manifest(path), str(path)


def parse_manifest(text: str, source: str) -> Manifest:
    """Parse an image manifest, detecting its format from the content.

    ``source`` names the text in error messages (normally the file path). Returns a
    dict from canonical name to :class:`InstalledDist`, sorted by name.
    """
    text = drop_bom(text)
    fmt = _detect_format(text)
    if fmt == "json":
        return parse_json_list(text, source)
    if fmt == "toml":
        return parse_installed_toml(text, source)
    if fmt == "pins":
        return parse_pins(text)
    return parse_freeze(text, source)


def _detect_format(text: str) -> _Format:
    """Guess the manifest format from its content (BOM already removed)."""
    lines = split_lines(text)
    first = next((line.strip() for line in lines if line.strip() and not is_comment_line(line)), "")
    if first.startswith("{"):
        return "json"
    if first.startswith("["):
        # `[name]` / `[[name]]` is a TOML table header; anything else after `[`
        # (`{`, `]`, a number) can only be JSON, even wrong JSON. `["a"]` is
        # both: whatever parses as JSON is JSON.
        if _TOML_HEADER_RE.match(first) and not _is_json(text):
            return "toml"
        return "json"
    if _INSTALLED_HEADER_RE.search(text):
        return "toml"
    stripped = [strip_comment(line) for line in lines]
    if not any(looks_like_requirement(line) for line in stripped) and any(
        is_pin_line(line) for line in stripped
    ):
        return "pins"
    return "freeze"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _decode_utf8(data: bytes, source: str) -> str:
    """Decode file bytes as UTF-8; an error names the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = "Save the manifest as UTF-8."
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            # PowerShell's `pip freeze > file` writes UTF-16.
            hint = (
                "It looks like UTF-16 (PowerShell's `>` writes that); "
                "use `pip freeze | Out-File -Encoding utf8 FILE` instead."
            )
        raise InputError(
            f"is not UTF-8 text (byte {exc.start} is {data[exc.start : exc.start + 1]!r}).",
            source=source,
            line=data.count(b"\n", 0, exc.start) + 1,
            hint=hint,
        ) from None
