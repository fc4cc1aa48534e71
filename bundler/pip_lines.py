"""The lexical layer of pip-style line files: lines, comments, continuations, options.

Requirement files (:mod:`bundler.request.requirements_file`) and ``pip freeze``
manifests (:mod:`bundler.target.manifest.freeze`) are written in the same line
syntax, so both read it through these functions and agree on it:

* a UTF-8 BOM at the start is dropped (:func:`drop_bom`);
* lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (:func:`split_lines`), as
  pip reads them; numbers are 1-based and count those breaks only;
* ``#`` at the start of a line or after whitespace starts a comment
  (:func:`strip_comment`), so a URL fragment such as ``x.whl#sha256=...`` is kept;
* a line ending in ``\\`` continues on the next one (:func:`join_continuations`),
  except a comment line, which also ends a continuation;
* an option token is split into its spelling and an attached value
  (:func:`split_option`): ``--name=value``, ``-xVALUE``.

What a line *means* (a requirement, which options exist, what a freeze comment
says) is left to the callers. ``pip freeze`` never continues a line, so the
manifest reader does not join continuations.
"""

from __future__ import annotations

import re

__all__ = [
    "drop_bom",
    "is_comment_line",
    "join_continuations",
    "logical_lines",
    "split_lines",
    "split_option",
    "strip_comment",
]

# pip's own rule (pip._internal.req.req_file.COMMENT_RE): `#` starts a comment only
# at the start of a line or after whitespace, so `url#sha256=...` keeps its fragment.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_COMMENT_LINE_RE = re.compile(r"^\s*#")
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")


def drop_bom(text: str) -> str:
    """``text`` without a leading UTF-8 byte order mark."""
    return text.removeprefix("\ufeff")


def split_lines(text: str) -> list[str]:
    """The physical lines of ``text``, split at ``\\r\\n``, ``\\r`` or ``\\n``.

    Not :meth:`str.splitlines`: it also breaks at form feeds and Unicode line
    separators, so its line numbers would not match an editor's or pip's.
    """
    return _LINE_BREAK_RE.split(text)


def is_comment_line(line: str) -> bool:
    """Whether the whole line is a comment (``#`` after optional blanks)."""
    return bool(_COMMENT_LINE_RE.match(line))


def strip_comment(line: str) -> str:
    """``line`` without its comment (and the blanks before it)."""
    return _COMMENT_RE.sub("", line)


def join_continuations(lines: list[str]) -> list[tuple[int, str]]:
    """Join lines ending in ``\\`` with the next: ``(first line number, joined text)``.

    Blanks after the ``\\`` are tolerated (pip is stricter). A comment line
    neither continues nor is continued: it ends a pending continuation and
    becomes an empty line, as in pip (pip-compile wrote ``--hash=... \\``
    followed by ``# via x`` for years). Every input line is accounted for, so
    a caller can still report the first physical line of each logical one.
    """
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, line in enumerate(lines, start=1):
        is_comment = is_comment_line(line)
        stripped = line.rstrip()
        if stripped.endswith("\\") and not is_comment:
            if not pending:
                first = number
            pending.append(stripped[:-1])
            continue
        piece = "" if is_comment else line
        if pending:
            joined.append((first, "".join([*pending, piece])))
            pending = []
        else:
            joined.append((number, piece))
    if pending:
        joined.append((first, "".join(pending)))
    return joined


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuations and drop comments: ``(first line number, text)``, no blanks.

    The BOM is the caller's to drop (:func:`drop_bom`), since only the start of
    a whole file can carry one.
    """
    result = []
    for number, line in join_continuations(split_lines(text)):
        content = strip_comment(line).strip()
        if content:
            result.append((number, content))
    return result


def split_option(token: str) -> tuple[str, str | None]:
    """An option token as ``(spelling, attached value)``; the value is ``None`` if not attached.

    ``--name=value`` -> ``("--name", "value")`` (``--name=`` attaches ``""``),
    ``--name`` -> ``("--name", None)``, ``-rFILE`` -> ``("-r", "FILE")``,
    ``-r`` -> ``("-r", None)``. The token must start with ``-``.
    """
    if token.startswith("--"):
        spelling, equals, value = token.partition("=")
        return spelling, (value if equals else None)
    return token[:2], (token[2:] or None)
