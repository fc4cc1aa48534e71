"""Image manifests: which distributions a fixed target image already has installed.

A manifest maps each PEP 503-canonical project name to an :class:`InstalledDist`.
:func:`parse_manifest` reads one from text and detects the format from the content:

``pip freeze`` / ``pip list --format=freeze``
    ``name==version`` (or ``===``), ``name @ url`` and ``-e location`` lines, with
    ``#`` comments, blank lines, CRLF line endings and a UTF-8 BOM tolerated. The
    version of a ``name @ url`` line comes from the wheel or sdist file name in the
    URL (``%2B`` decoded), or is unknown (``None``) for VCS URLs and directories.
``pip list --format=json``
    ``[{"name": ..., "version": ...}, ...]``; extra keys are ignored.
kbundle's own TOML capture/target files
    The ``[installed]`` table, read by :func:`installed_from_table`.
Dockerfile/config pins
    ``KEY_VERSION=value`` lines (optionally ``ENV``/``ARG``), as in Kaggle's
    ``config.txt``; used only when the text has no freeze requirement lines.

Decisions worth knowing:

* ``==`` versions must be valid PEP 440 and are normalised (``1.0.0-rc1`` ->
  ``1.0.0rc1``). ``===`` versions are kept verbatim: pip only writes ``===`` for
  versions that are *not* PEP 440, so validating them would reject real output.
* An editable (``-e``) line takes its name from ``#egg=`` or, failing that, from
  the comment pip writes just above it (``# Editable install with no version
  control (name==1.0)``), which also gives the version. An editable line whose
  name cannot be found is skipped without error: the image then looks as if it
  lacked the project, so kbundle errs towards vendoring it rather than assuming
  it is present. Editables record their location (as written) in ``url``.
* The option lines ``pip freeze -r`` copies through (``-i``, ``-f``, ``-r``,
  ``--extra-index-url``, ...) say nothing about what is installed and are skipped.
* The same name twice is fine if both lines say the same thing, and an error
  naming both lines otherwise.

Every problem is an :class:`~bundler.errors.InputError` naming the source and,
where there is one, the 1-based line.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from bundler.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - only on Python 3.10
    # mypy checks as 3.10 (pyproject) but tomli is only installed on 3.10 itself.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

if TYPE_CHECKING:
    import pathlib
    from collections.abc import Iterator

__all__ = [
    "InstalledDist",
    "Manifest",
    "installed_from_table",
    "installed_to_table",
    "load_manifest",
    "parse_manifest",
]


@dataclass(frozen=True)
class InstalledDist:
    """One distribution installed in a target image.

    ``version`` is a normalised PEP 440 string, a verbatim legacy string (only from
    ``===`` pins, JSON or TOML input) or ``None`` when unknown. ``requires`` holds
    the Requires-Dist strings when known (``()`` means "known to have none") and
    ``None`` when the source did not say. ``url`` is the direct URL of a
    ``name @ url`` line, or the location of an editable install.
    """

    name: str
    version: str | None
    requires: tuple[str, ...] | None = None
    url: str | None = None


Manifest: TypeAlias = dict[str, InstalledDist]
"""Canonical name -> installed distribution, a plain dict sorted by name."""

_FREEZE_HINT = (
    "Expected one `name==version`, `name @ url` or `-e location` per line, "
    "as `pip freeze` writes them."
)

# pip's own rule (pip._internal.req.req_file.COMMENT_RE): `#` starts a comment only
# at the start of a line or after whitespace, so `url#sha256=...` keeps its fragment.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")

# The comments pip freeze writes above an editable install it cannot express as a
# VCS URL carry the name and version, e.g.
# "# Editable install with no version control (foo==0.1)" or
# "# Editable Git install (foo==0.1) with either a deleted local remote or invalid URI:".
_EDITABLE_COMMENT_RE = re.compile(r"^#\s*Editable\b[^(]*\((?P<pin>[^()\s]+)\)")

# Options `pip freeze -r requirements.txt` copies verbatim into its output.
_PASSTHROUGH_OPTIONS = frozenset(
    {
        "-r",
        "--requirement",
        "-f",
        "--find-links",
        "-i",
        "--index-url",
        "--pre",
        "--trusted-host",
        "--process-dependency-links",
        "--extra-index-url",
        "--use-feature",
    }
)
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})

# `KEY_VERSION=value`, optionally after a Dockerfile `ENV`/`ARG` and after the
# `NN:` line-number prefix used when quoting excerpts of a Dockerfile.
_PIN_RE = re.compile(
    r"^(?:\d+:)?(?:(?:ENV|ARG)\s+)?(?P<key>[A-Z][A-Z0-9_]*_VERSION)=(?P<value>\S*)"
)
# Keys naming the base image, CUDA or Python rather than a Python package.
_NON_PACKAGE_PREFIXES = ("CUDA_", "PYTHON_", "BASE_", "CPU_", "GPU_")

# A `[installed]` / `[installed.name]` table header anywhere marks a kbundle TOML file,
# even when top-level keys come before it.
_INSTALLED_HEADER_RE = re.compile(r"^\s*\[\s*installed\s*[.\]]", re.MULTILINE)
_TOML_LOCATION_RE = re.compile(r"\s*\(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_BARE_TOML_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# A TOML table or array-of-tables header line: `[installed]`, `[[x.y]]`, `["a b"]`.
_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_TOML_HEADER_RE = re.compile(rf"^\[\[?\s*{_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*\s*\]\]?\s*(?:#.*)?$")

_Format: TypeAlias = Literal["freeze", "json", "toml", "pins"]


class _LineProblem(ValueError):
    """A problem with one line; the caller adds source, line number and quote."""


# --------------------------------------------------------------------------- public


def load_manifest(path: pathlib.Path) -> Manifest:
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


def parse_manifest(text: str, source: str) -> Manifest:
    """Parse an image manifest, detecting its format from the content.

    ``source`` names the text in error messages (normally the file path). Returns a
    dict from canonical name to :class:`InstalledDist`, sorted by name.
    """
    text = text.removeprefix("\ufeff")
    fmt = _detect_format(text)
    if fmt == "json":
        return _parse_json(text, source)
    if fmt == "toml":
        return _parse_toml(text, source)
    if fmt == "pins":
        return _parse_pins(text)
    return _parse_freeze(text, source)


def installed_from_table(table: Mapping[str, object], source: str) -> Manifest:
    """Read the ``[installed]`` table of a kbundle capture or target TOML file.

    Each key is a project name; its value is either a version string (the short
    form ``numpy = "2.0.2"``) or a table with optional ``version`` (a string,
    ``""`` for unknown), ``requires`` (a list of Requires-Dist strings) and ``url``.
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


# ------------------------------------------------------------------ format detection


def _detect_format(text: str) -> _Format:
    """Guess the manifest format from its content (BOM already removed)."""
    first = next((line.strip() for line in _lines(text) if _is_significant(line)), "")
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
    lines = [_strip_comment(line) for line in _lines(text)]
    if not any(_looks_like_requirement(line) for line in lines) and any(
        _PIN_RE.match(line) for line in lines
    ):
        return "pins"
    return "freeze"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _is_significant(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _looks_like_requirement(line: str) -> bool:
    """Whether a (comment-stripped) line is meant as a pip freeze requirement."""
    stripped = line.strip()
    return "==" in stripped or " @ " in stripped or _option_name(stripped) in _EDITABLE_OPTIONS


# ---------------------------------------------------------------------- pip freeze


def _parse_freeze(text: str, source: str) -> Manifest:
    """Parse ``pip freeze`` output."""
    found: dict[str, tuple[int, str, InstalledDist]] = {}
    editable_comment: str | None = None  # pip's "# Editable ... (name==v)" just above
    for number, raw in enumerate(_lines(text), start=1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            match = _EDITABLE_COMMENT_RE.match(stripped)
            # Keep an earlier match across the follow-up "# 'url'" comment line.
            editable_comment = match["pin"] if match else editable_comment
            continue
        line = _strip_comment(raw).strip()
        if not line:
            editable_comment = None
            continue
        try:
            dist = _parse_freeze_line(line, editable_comment)
        except _LineProblem as exc:
            raise InputError(
                f"cannot read {raw.strip()!r}: {exc}.",
                source=source,
                line=number,
                hint=_FREEZE_HINT,
            ) from None
        editable_comment = None
        if dist is None:
            continue
        if dist.name in found and found[dist.name][2] != dist:
            first_number, first_raw, _ = found[dist.name]
            raise InputError(
                f"{dist.name} is listed twice with different versions: "
                f"line {first_number} {first_raw.strip()!r} and line {number} {raw.strip()!r}.",
                source=source,
                line=number,
                hint="An image has one version of each distribution; keep the right line.",
            )
        found.setdefault(dist.name, (number, raw, dist))
    return {name: found[name][2] for name in sorted(found)}


def _parse_freeze_line(line: str, editable_comment: str | None) -> InstalledDist | None:
    """Parse one non-blank, comment-free freeze line; ``None`` means "nothing to record"."""
    if line.startswith("-"):
        option = _option_name(line)
        if option in _EDITABLE_OPTIONS:
            return _parse_editable(_option_value(line), editable_comment)
        if option in _PASSTHROUGH_OPTIONS:
            return None
        raise _LineProblem(f"{option} is not an option pip freeze writes")
    return _parse_requirement(line)


# A plain pin, nearly every line of a freeze: parsed without packaging's
# full requirement grammar (a preset has some 700 of them, read on every run).
_PLAIN_PIN_RE = re.compile(
    r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)[ \t]*==[ \t]*([A-Za-z0-9.+!_-]+)"
)


def _parse_requirement(line: str) -> InstalledDist:
    """Parse ``name==version``, ``name===version`` or ``name @ url``."""
    plain = _PLAIN_PIN_RE.fullmatch(line)
    if plain is not None:
        with contextlib.suppress(InvalidVersion):  # the full parser says what is wrong
            return InstalledDist(canonicalize_name(plain[1]), str(Version(plain[2])))
    try:
        req = Requirement(line)
    except InvalidRequirement as exc:
        # packaging's message is several lines with a caret; the first says what is wrong.
        detail = str(exc).splitlines()[0]
        raise _LineProblem(detail[:1].lower() + detail[1:]) from None
    if req.marker is not None:
        raise _LineProblem("an installed distribution cannot have an environment marker")
    name = canonicalize_name(req.name)
    if req.url is not None:
        return InstalledDist(name, _version_from_url(name, req.url), url=req.url)
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "==="):
        raise _LineProblem("expected exactly one `==` version")
    spec = specs[0]
    if spec.operator == "===":
        return InstalledDist(name, spec.version)
    try:
        return InstalledDist(name, str(Version(spec.version)))
    except InvalidVersion:
        raise _LineProblem(f"{spec.version!r} is not a valid version") from None


def _parse_editable(location: str, editable_comment: str | None) -> InstalledDist | None:
    """Parse the location of an ``-e`` line (VCS URL or path)."""
    if not location:
        raise _LineProblem("-e needs a location")
    egg = parse_qs(urlsplit(location).fragment).get("egg")
    hinted: InstalledDist | None = None
    if editable_comment is not None:
        try:
            hinted = _parse_requirement(editable_comment)
        except _LineProblem:
            hinted = None  # an odd comment is not worth failing over
    name: str
    if egg:
        try:
            name = canonicalize_name(egg[0], validate=True)
        except InvalidName:
            raise _LineProblem(f"#egg={egg[0]} is not a valid project name") from None
    elif hinted is not None:
        name = hinted.name
    else:
        return None  # name unknown: skipped on purpose, see the module docstring
    version = hinted.version if hinted is not None and hinted.name == name else None
    return InstalledDist(name, version, url=location)


def _version_from_url(name: str, url: str) -> str | None:
    """The version in the wheel or sdist file name ``url`` points at, if any.

    The fragment (``#sha256=...``) and query are ignored and the file name is
    percent-decoded (``%2B`` -> ``+``). VCS URLs, directories, other archives and
    files named for a different project give ``None``.
    """
    filename = unquote(urlsplit(url).path.rpartition("/")[2])
    try:
        if filename.endswith(".whl"):
            file_name, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            file_name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(version) if file_name == name else None


def _option_name(line: str) -> str:
    """``--editable=x`` -> ``--editable``; ``-ex`` / ``-e x`` -> ``-e``; else ``""``."""
    if not line.startswith("-"):
        return ""
    head = line.split(maxsplit=1)[0]
    return head.partition("=")[0] if head.startswith("--") else head[:2]


def _option_value(line: str) -> str:
    """The value of the option that starts ``line`` (same forms as :func:`_option_name`)."""
    head, *tail = line.split(maxsplit=1)
    rest = tail[0] if tail else ""
    if head.startswith("--"):
        _, equals, value = head.partition("=")
        return value.strip() if equals else rest.strip()
    return head[2:].strip() or rest.strip()


# ---------------------------------------------------------------------------- JSON


def _parse_json(text: str, source: str) -> Manifest:
    """Parse ``pip list --format=json`` output."""
    hint = "Expected the output of `pip list --format=json`."
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON: {exc.msg} (column {exc.colno}).",
            source=source,
            line=exc.lineno,
            hint=hint,
        ) from None
    if not isinstance(data, list):
        raise InputError("expected a JSON list of distributions.", source=source, hint=hint)
    found: dict[str, tuple[int, InstalledDist]] = {}
    for index, item in enumerate(data, start=1):
        dist = _dist_from_json(item)
        if dist is None:
            raise InputError(
                f"JSON entry {index} ({json.dumps(item)[:80]}) needs string 'name' and 'version'.",
                source=source,
                hint=hint,
            )
        if dist.name in found and found[dist.name][1] != dist:
            raise InputError(
                f"{dist.name} is listed twice with different versions: "
                f"entries {found[dist.name][0]} and {index}.",
                source=source,
            )
        found.setdefault(dist.name, (index, dist))
    return {name: found[name][1] for name in sorted(found)}


def _dist_from_json(item: object) -> InstalledDist | None:
    """One ``pip list`` JSON entry, or ``None`` if it is malformed."""
    if not isinstance(item, dict):
        return None
    name, version, location = (
        item.get("name"),
        item.get("version"),
        item.get("editable_project_location"),
    )
    if not isinstance(name, str) or not isinstance(version, str) or not version.strip():
        return None
    try:
        canonical = canonicalize_name(name, validate=True)
    except InvalidName:
        return None
    return InstalledDist(
        canonical,
        _normalize_version(version),
        url=location if isinstance(location, str) else None,
    )


# ---------------------------------------------------------------------------- TOML


def _parse_toml(text: str, source: str) -> Manifest:
    """Parse a kbundle TOML file and read its ``[installed]`` table."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts the place in the message: "Invalid value (at line 3, column 5)".
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


# ---------------------------------------------------------------------------- pins


def _parse_pins(text: str) -> Manifest:
    """Parse ``KEY_VERSION=value`` pins from a Dockerfile/config excerpt.

    Lines that are not pins are document text and ignored, as are keys for the base
    image, CUDA or Python and values that are not versions (``$PACKAGE_VERSION``).
    """
    pins: dict[str, InstalledDist] = {}
    for line in _lines(text):
        match = _PIN_RE.match(_strip_comment(line).strip())
        if match is None or match["key"].startswith(_NON_PACKAGE_PREFIXES):
            continue
        try:
            version = Version(match["value"].strip("\"'"))
        except InvalidVersion:
            continue
        name = canonicalize_name(match["key"].removesuffix("_VERSION"))
        # A key repeated later overrides: such documents append later revisions of
        # the same config below earlier ones, so the last value is the newest.
        pins[name] = InstalledDist(name, str(version))
    return dict(sorted(pins.items()))


# ------------------------------------------------------------------------- helpers


def _lines(text: str) -> Iterator[str]:
    """Lines split on ``\\n`` only (so numbers match editors), without a trailing ``\\r``."""
    for line in text.split("\n"):
        yield line.removesuffix("\r")


def _strip_comment(line: str) -> str:
    return _COMMENT_RE.sub("", line)


def _normalize_version(text: str) -> str:
    """``str(Version(text))`` when valid PEP 440, else ``text`` stripped (a legacy version)."""
    try:
        return str(Version(text))
    except InvalidVersion:
        return text.strip()


def _version_or_none(text: str) -> str | None:
    return _normalize_version(text) if text.strip() else None


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
