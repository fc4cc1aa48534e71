"""The options of a requirement-file line: which pip options kbundle knows, and how a
logical line splits into its requirement part and its options.

Only the syntax is checked here (known spelling, value present or absent, the
form of a URL or ``--hash`` value); what an option does to the request is
:mod:`bundler.request.requirements_file`'s business. The lexical rules
(comments, continuations, ``--name=value``) are :mod:`bundler.pip_lines`'.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bundler.errors import InputError
from bundler.pip_lines import split_option

__all__ = ["Line", "Option", "Where", "hash_value", "split_line", "url_value"]

# The options start at the first whitespace-separated token that begins with
# "-"; only the options part is shell-split, because shlex would mangle the
# quotes of a marker such as ``; python_version < "3.11"``.
_OPTIONS_START_RE = re.compile(r"(?:^|\s)-")
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")

# Canonical option name -> (takes a value, spellings).
_OPTIONS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "requirement": (True, ("-r", "--requirement")),
    "constraint": (True, ("-c", "--constraint")),
    "index-url": (True, ("-i", "--index-url")),
    "extra-index-url": (True, ("--extra-index-url",)),
    "find-links": (True, ("-f", "--find-links")),
    "no-index": (False, ("--no-index",)),
    "pre": (False, ("--pre",)),
    "no-binary": (True, ("--no-binary",)),
    "only-binary": (True, ("--only-binary",)),
    "prefer-binary": (False, ("--prefer-binary",)),
    "require-hashes": (False, ("--require-hashes",)),
    "hash": (True, ("--hash",)),
}
_SPELLINGS = {spelling: name for name, (_, spells) in _OPTIONS.items() for spelling in spells}

# pip options kbundle refuses, with the reason the user sees.
_UNSUPPORTED: dict[str, str] = {
    "-e": "editable installs cannot be vendored for an offline image; build a wheel "
    "and require it as 'name @ file:///path/to/name.whl'",
    "--editable": "editable installs cannot be vendored for an offline image; build a wheel "
    "and require it as 'name @ file:///path/to/name.whl'",
    "--trusted-host": "kbundle always verifies TLS; use an https index with a valid certificate",
    "--use-feature": "pip feature flags do not apply to kbundle; remove the line",
    "--global-option": "kbundle does not pass build options per requirement",
    "--config-settings": "kbundle does not pass build options per requirement",
    "--install-option": "kbundle does not pass install options per requirement",
}


@dataclass(frozen=True)
class Where:
    """A logical line: for messages (``text`` is before ``${}`` expansion, so a
    token in an index URL never reaches an error message or a log)."""

    source: str
    line: int
    text: str

    def error(self, message: str, hint: str | None = None) -> InputError:
        return InputError(message, source=self.source, line=self.line, hint=hint)


@dataclass(frozen=True)
class Option:
    """One option of a line, known and with its value checked present or absent."""

    name: str  # canonical, a key of _OPTIONS
    spelling: str  # as written, for messages
    value: str | None


@dataclass(frozen=True)
class Line:
    """A logical line: the requirement before the options (if any), then the options."""

    requirement: str | None
    options: tuple[Option, ...]


def split_line(line: str, where: Where) -> Line:
    """Split a logical line into its requirement part and its options."""
    match = _OPTIONS_START_RE.search(line)
    if match is None:
        return Line(line, ())
    args, options_text = line[: match.start()].strip(), line[match.start() :].strip()
    try:
        tokens = shlex.split(options_text)
    except ValueError as exc:
        raise where.error(f"cannot split the options of '{where.text}': {exc}") from exc
    return Line(args or None, tuple(_parse_options(tokens, where)))


def _parse_options(tokens: Sequence[str], where: Where) -> Iterable[Option]:
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("-"):
            raise where.error(
                f"unexpected '{token}' in '{where.text}'",
                hint="Options come after the requirement; write one requirement a line.",
            )
        spelling, attached = split_option(token)  # "-r FILE", "-rFILE", "--x=y"
        if spelling in _UNSUPPORTED:
            raise where.error(
                f"'{where.text}': option '{spelling}' is not supported: {_UNSUPPORTED[spelling]}"
            )
        name = _SPELLINGS.get(spelling)
        if name is None:
            raise where.error(
                f"unknown option '{spelling}' in '{where.text}'",
                hint="Supported: " + ", ".join(sorted(_SPELLINGS)) + ".",
            )
        takes_value = _OPTIONS[name][0]
        if not takes_value:
            if attached is not None:
                raise where.error(f"'{where.text}': option '{spelling}' takes no value")
            yield Option(name, spelling, None)
            continue
        if attached is None:
            if i >= len(tokens) or tokens[i].startswith("-"):
                raise where.error(f"'{where.text}': option '{spelling}' needs a value")
            attached = tokens[i]
            i += 1
        if not attached:
            raise where.error(f"'{where.text}': option '{spelling}' needs a value")
        yield Option(name, spelling, attached)


def hash_value(option: Option, where: Where) -> str:
    """A ``--hash`` value checked and normalised to ``algo:hex`` in lower case."""
    value = option.value or ""
    algo, _, digest = value.partition(":")
    algo = algo.lower()
    if algo not in _HASH_LENGTHS or len(digest) != _HASH_LENGTHS[algo] or not _HEX_RE.match(digest):
        raise where.error(
            f"'--hash={value}' is not a valid hash",
            hint="Expected --hash=sha256:<64 hex digits> (sha384 and sha512 are accepted too).",
        )
    return f"{algo}:{digest.lower()}"


def url_value(option: Option, where: Where) -> str:
    """The value of an index option, which must be a URL (a folder goes to --find-links)."""
    value = option.value or ""
    if "://" not in value:
        raise where.error(
            f"option '{option.spelling}' expects a URL, not '{value}'",
            hint="For example https://pypi.org/simple; use --find-links for a local folder.",
        )
    return value
