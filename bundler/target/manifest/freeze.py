"""``pip freeze`` / ``pip list --format=freeze`` output as a manifest.

``name==version`` (or ``===``), ``name @ url`` and ``-e location`` lines, with
``#`` comments and blank lines; the line syntax (line breaks, comments,
``--option=value``) is :mod:`bundler.pip_lines`', shared with
requirement files. The version of a ``name @ url`` line comes from the wheel or
sdist file name in the URL (``%2B`` decoded), or is unknown (``None``) for VCS
URLs and directories.

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
* pip freeze never continues a line with ``\\``, so continuations are not
  joined: such a line is malformed like any other.
"""

from __future__ import annotations

import contextlib
import re
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
from bundler.pip_lines import is_comment_line, split_lines, split_option, strip_comment
from bundler.target.manifest.dist import InstalledDist, Manifest

__all__ = ["looks_like_requirement", "parse_freeze"]

_FREEZE_HINT = (
    "Expected one `name==version`, `name @ url` or `-e location` per line, "
    "as `pip freeze` writes them."
)

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

# A plain pin, nearly every line of a freeze: parsed without packaging's
# full requirement grammar (a preset has some 700 of them, read on every run).
_PLAIN_PIN_RE = re.compile(
    r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)[ \t]*==[ \t]*([A-Za-z0-9.+!_-]+)"
)


class _LineProblem(ValueError):
    """A problem with one line; the caller adds source, line number and quote."""


def looks_like_requirement(line: str) -> bool:
    """Whether a (comment-stripped) line is meant as a pip freeze requirement."""
    stripped = line.strip()
    return "==" in stripped or " @ " in stripped or _option_name(stripped) in _EDITABLE_OPTIONS


def parse_freeze(text: str, source: str) -> Manifest:
    """Parse ``pip freeze`` output (BOM already removed); errors name ``source`` and the line."""
    found: dict[str, tuple[int, str, InstalledDist]] = {}
    editable_comment: str | None = None  # pip's "# Editable ... (name==v)" just above
    for number, raw in enumerate(split_lines(text), start=1):
        if is_comment_line(raw):
            match = _EDITABLE_COMMENT_RE.match(raw.strip())
            # Keep an earlier match across the follow-up "# 'url'" comment line.
            editable_comment = match["pin"] if match else editable_comment
            continue
        line = strip_comment(raw).strip()
        if not line:
            editable_comment = None
            continue
        try:
            dist = _parse_line(line, editable_comment)
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


def _parse_line(line: str, editable_comment: str | None) -> InstalledDist | None:
    """Parse one non-blank, comment-free freeze line; ``None`` means "nothing to record"."""
    if line.startswith("-"):
        option = _option_name(line)
        if option in _EDITABLE_OPTIONS:
            return _parse_editable(_option_value(line), editable_comment)
        if option in _PASSTHROUGH_OPTIONS:
            return None
        raise _LineProblem(f"{option} is not an option pip freeze writes")
    return _parse_requirement(line)


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
    return split_option(line.split(maxsplit=1)[0])[0]


def _option_value(line: str) -> str:
    """The value of the option that starts ``line`` (same forms as :func:`_option_name`)."""
    head, *tail = line.split(maxsplit=1)
    attached = split_option(head)[1]
    return (attached if attached is not None else (tail[0] if tail else "")).strip()
