"""pip requirement files as input to ``kbundle lock -r FILE``.

The syntax is pip's (https://pip.pypa.io/en/stable/reference/requirements-file-format/),
read the same way pip reads it, in the same order:

1. lines end at ``\\n``, ``\\r\\n`` or ``\\r``; a UTF-8 BOM is dropped;
2. a line ending in ``\\`` continues on the next one (trailing blanks after the
   ``\\`` are tolerated, pip is stricter) unless it is a comment line; the joined
   line is numbered by its first physical line;
3. ``#`` at the start of a line or after whitespace starts a comment;
4. ``${NAME}`` (upper-case letters, digits, ``_``) is replaced by the
   environment variable NAME;
5. what comes before the first ``-option`` is a PEP 508 requirement, the
   rest are options split like a shell would.

Steps 1-3 are :mod:`bundler.pip_lines` (shared with ``pip freeze``
manifests), step 5 is :mod:`bundler.request.requirement_options`; this module
expands variables, checks requirements and hashes, follows ``-r``/``-c`` and
collects what the options ask for.

Supported options (everything else is an :class:`~bundler.errors.InputError`
that names the file and line):

* ``-r/--requirement FILE`` and ``-c/--constraint FILE``, relative to the file
  that names them; every file a constraints file includes holds constraints;
* ``-i/--index-url``, ``--extra-index-url``, ``-f/--find-links``, ``--no-index``;
* ``--hash=ALGO:HEX`` after a requirement (``sha256``, ``sha384``, ``sha512``);
* ``--pre``; ``--no-binary`` / ``--only-binary`` (recorded with pip's
  semantics, see :class:`RequirementsInput`);
* ``--prefer-binary`` and ``--require-hashes`` are accepted and ignored: kbundle
  always prefers wheels and always records hashes.

Where kbundle differs from pip, on purpose:

* an unset ``${NAME}`` is an error (pip leaves the text as is, which fails
  later with a confusing 404 or 401);
* requirements must name their project: ``./x.whl`` or a bare URL must be
  written ``name @ URL`` (the resolver needs the name before it fetches);
* ``-e``, ``--trusted-host``, ``--use-feature``, per-requirement build options
  and options other than ``--hash`` after a requirement are errors, not
  silently ignored;
* two different ``--index-url`` values are an error (pip lets the last win);
* an ``-r``/``-c`` cycle is an error that shows the chain of files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidName, NormalizedName, canonicalize_name

from bundler.errors import InputError
from bundler.inputs import check_project_name
from bundler.pip_lines import drop_bom, logical_lines
from bundler.request.requirement_options import (
    Line,
    Option,
    Where,
    hash_value,
    split_line,
    url_value,
)

__all__ = [
    "Req",
    "RequirementsInput",
    "parse_requirement_arg",
    "parse_requirements_file",
    "parse_requirements_files",
    "parse_requirements_text",
]

# Variables follow POSIX: upper-case letters, digits and "_".
_ENV_VAR_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")

_REQUIREMENT_HINT = (
    "Expected a PEP 508 requirement such as 'numpy>=2', "
    "'pandas[excel]==2.2.3; python_version >= \"3.10\"' or 'name @ https://host/name.whl'."
)


@dataclass(frozen=True)
class Req:
    """One requirement and where it was written.

    ``source`` is the file as the user named it (``requirements.txt``,
    ``sub/common.txt``) or, for a command-line argument, what the caller
    passed; ``line`` is the 1-based line in that file (the first physical line
    of a continued one), ``None`` for an argument. ``hashes`` are the
    ``--hash`` values as ``"algo:hex"``. ``constraint`` is true for lines of a
    ``-c`` file. Equality compares the parsed requirement, so spelling
    differences such as ``Foo>=1,<2`` and ``foo<2,>=1`` do not matter.
    """

    requirement: Requirement
    source: str
    line: int | None = None
    hashes: tuple[str, ...] = ()
    constraint: bool = False

    @property
    def name(self) -> NormalizedName:
        """The canonical project name."""
        return canonicalize_name(self.requirement.name)

    @property
    def location(self) -> str:
        """``file:line`` for messages (just ``source`` without a line)."""
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    @property
    def via(self) -> str:
        """The pip-compile ``# via`` label: ``-r FILE``, ``-c FILE`` or ``source``."""
        if self.line is None:
            return self.source
        return f"{'-c' if self.constraint else '-r'} {self.source}"

    def __str__(self) -> str:
        return str(self.requirement)


@dataclass(frozen=True)
class RequirementsInput:
    """Everything a set of requirement files asks for.

    ``requirements`` and ``constraints`` keep file order (duplicates are kept:
    the resolver merges them). ``find_links`` paths are made relative to the
    file that names them, URLs are kept. ``no_binary`` / ``only_binary`` are the
    sets pip ends up with (canonical names, or ``":all:"``), sorted: a later
    ``--no-binary X`` removes X from ``only_binary`` and the reverse, and
    ``:all:`` replaces both. Interpreting them (which packages may be built
    from source) is left to the caller.
    """

    requirements: tuple[Req, ...] = ()
    constraints: tuple[Req, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    pre: bool = False
    no_binary: tuple[str, ...] = ()
    only_binary: tuple[str, ...] = ()

    def sources(self) -> dict[str, tuple[str, ...]]:
        """Canonical name -> its sorted ``# via`` labels (``-r FILE``, ``-c FILE``)."""
        labels: dict[str, set[str]] = {}
        for req in (*self.requirements, *self.constraints):
            labels.setdefault(req.name, set()).add(req.via)
        return {name: tuple(sorted(v)) for name, v in sorted(labels.items())}


# ------------------------------------------------------------------ public entry points


def parse_requirements_file(
    path: Path, *, env: Mapping[str, str] | None = None, constraint: bool = False
) -> RequirementsInput:
    """Read a requirements file and every file it includes with ``-r``/``-c``.

    ``env`` supplies ``${NAME}`` values (default: ``os.environ``). With
    ``constraint`` the file is read as ``-c FILE`` is: everything in it lands
    in ``constraints``. Errors are :class:`InputError` naming the file and the
    1-based line.
    """
    return parse_requirements_files([path], env=env, constraint=constraint)


def parse_requirements_files(
    paths: Sequence[Path], *, env: Mapping[str, str] | None = None, constraint: bool = False
) -> RequirementsInput:
    """Read several requirement files as if one ``-r``-included the others, in order.

    ``constraint``: read them as ``-c`` includes instead (``kbundle lock -c FILE``).
    """
    collector = _Collector(os.environ if env is None else env)
    for path in paths:
        text = _read_top_level(path)
        chain = ((path.resolve(), str(path)),)
        collector.parse(text, str(path), path.parent, constraint=constraint, chain=chain)
    return collector.result()


def parse_requirements_text(
    text: str, source: str, base_dir: Path, *, env: Mapping[str, str] | None = None
) -> RequirementsInput:
    """Parse requirement-file text; ``source`` names it in messages.

    ``-r``/``-c`` lines are read from disk, relative to ``base_dir``; ``env``
    supplies ``${NAME}`` values (default: ``os.environ``).
    """
    collector = _Collector(os.environ if env is None else env)
    collector.parse(drop_bom(text), source, base_dir, constraint=False, chain=())
    return collector.result()


def parse_requirement_arg(text: str, source: str) -> Req:
    """A requirement given on the command line; errors name ``source``.

    No options and no ``${NAME}`` expansion here: the shell has done that.
    """
    stripped = text.strip()
    if not stripped:
        raise InputError("an empty requirement is not valid", source=source, hint=_REQUIREMENT_HINT)
    if stripped.startswith("-"):
        raise InputError(
            f"'{stripped}' is an option, not a requirement",
            source=source,
            hint="Give requirement files with -r FILE; other pip options are not arguments.",
        )
    return Req(_requirement(stripped, source, None), source)


# ------------------------------------------------------------------ one line


def _requirement(text: str, source: str, line: int | None) -> Requirement:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        # packaging's message has a caret diagram on later lines; the CLI
        # prints one paragraph, so keep the first line only.
        reason = str(exc).splitlines()[0] if str(exc) else "invalid syntax"
        raise InputError(
            f"'{text}' is not a valid requirement ({reason})",
            source=source,
            line=line,
            hint=_requirement_hint(text),
        ) from exc
    check_project_name(requirement.name, f"{source}:{line}" if line is not None else source)
    return requirement


def _requirement_hint(text: str) -> str:
    if "://" in text:
        return f"kbundle needs the project name before it fetches anything: write 'name @ {text}'."
    if text.startswith((".", "/", "~")) or text.endswith((".whl", ".zip", ".tar.gz", ".tgz")):
        return (
            "kbundle needs the project name before it fetches anything: write a local file "
            "as 'name @ file:///absolute/path/to/file'."
        )
    return _REQUIREMENT_HINT


def _expand_env(line: str, env: Mapping[str, str], where: Where) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise where.error(
                f"environment variable ${{{name}}} is not set",
                hint=f"Set {name} before running kbundle, or write the value into the file.",
            )
        return env[name]

    return _ENV_VAR_RE.sub(value, line)


def _binary_option(value: str, target: set[str], other: set[str], where: Where) -> None:
    """pip's FormatControl.handle_mutual_excludes, on plain sets."""
    names = value.split(",")
    while ":all:" in names:
        other.clear()
        target.clear()
        target.add(":all:")
        del names[: names.index(":all:") + 1]
        if ":none:" not in names:
            return
    for name in names:
        if name == ":none:":
            target.clear()
            continue
        try:
            canonical = canonicalize_name(name, validate=True)
        except InvalidName as exc:
            raise where.error(
                f"'{name}' is not a project name",
                hint="Expected comma-separated names, :all: or :none:.",
            ) from exc
        other.discard(canonical)
        target.add(canonical)


# ------------------------------------------------------------------ the file walker


# The files being read, outermost first: (resolved path, name for messages).
_Chain = tuple[tuple[Path, str], ...]


@dataclass
class _Collector:
    env: Mapping[str, str]
    requirements: list[Req] = field(default_factory=list)
    constraints: list[Req] = field(default_factory=list)
    index_url: str | None = None
    index_url_at: str = ""
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    pre: bool = False
    no_binary: set[str] = field(default_factory=set)
    only_binary: set[str] = field(default_factory=set)

    def result(self) -> RequirementsInput:
        return RequirementsInput(
            requirements=tuple(self.requirements),
            constraints=tuple(self.constraints),
            index_url=self.index_url,
            extra_index_urls=tuple(dict.fromkeys(self.extra_index_urls)),
            find_links=tuple(dict.fromkeys(self.find_links)),
            no_index=self.no_index,
            pre=self.pre,
            no_binary=tuple(sorted(self.no_binary)),
            only_binary=tuple(sorted(self.only_binary)),
        )

    def parse(
        self, text: str, source: str, base_dir: Path, *, constraint: bool, chain: _Chain
    ) -> None:
        """Parse one file's text; ``chain`` holds the files being read (cycle check)."""
        for number, raw in logical_lines(text):
            where = Where(source, number, raw)
            line = split_line(_expand_env(raw, self.env, where), where)
            if line.requirement is not None:
                self._requirement_line(line, where, constraint)
            else:
                for option in line.options:
                    self._option(option, where, base_dir, constraint, chain)

    def _requirement_line(self, line: Line, where: Where, constraint: bool) -> None:
        assert line.requirement is not None
        hashes: list[str] = []
        for option in line.options:
            if option.name != "hash":
                raise where.error(
                    f"option '{option.spelling}' must be on a line of its own, "
                    "not after a requirement",
                    hint="Only --hash may follow a requirement.",
                )
            hashes.append(hash_value(option, where))
        requirement = _requirement(line.requirement, where.source, where.line)
        if constraint and requirement.extras:
            raise where.error(
                f"the constraint '{line.requirement}' has extras; constraints cannot have extras",
                hint="Constrain the project without [extras] (pip refuses them as well).",
            )
        req = Req(requirement, where.source, where.line, tuple(sorted(set(hashes))), constraint)
        (self.constraints if constraint else self.requirements).append(req)

    def _option(
        self,
        option: Option,
        where: Where,
        base_dir: Path,
        constraint: bool,
        chain: _Chain,
    ) -> None:
        value = option.value or ""
        if option.name in ("requirement", "constraint"):
            self._include(value, where, base_dir, constraint or option.name == "constraint", chain)
        elif option.name == "index-url":
            url = url_value(option, where)
            if self.index_url is not None and self.index_url != url:
                raise where.error(
                    f"--index-url {url} conflicts with --index-url {self.index_url} "
                    f"given at {self.index_url_at}",
                    hint="Give one --index-url; add other indexes with --extra-index-url.",
                )
            self.index_url, self.index_url_at = url, f"{where.source}:{where.line}"
        elif option.name == "extra-index-url":
            self.extra_index_urls.append(url_value(option, where))
        elif option.name == "find-links":
            # A local folder is relative to the file that names it, as in the
            # project configuration; URLs are kept as they are.
            self.find_links.append(value if "://" in value else os.path.normpath(base_dir / value))
        elif option.name == "no-index":
            self.no_index = True
        elif option.name == "pre":
            self.pre = True
        elif option.name == "no-binary":
            _binary_option(value, self.no_binary, self.only_binary, where)
        elif option.name == "only-binary":
            _binary_option(value, self.only_binary, self.no_binary, where)
        elif option.name == "hash":
            raise where.error(
                f"'{where.text}' has --hash but no requirement",
                hint="Put --hash on the requirement line it checks (use \\ to continue lines).",
            )
        # prefer-binary and require-hashes: kbundle's behaviour already.

    def _include(
        self, value: str, where: Where, base_dir: Path, constraint: bool, chain: _Chain
    ) -> None:
        if "://" in value:
            raise where.error(
                f"cannot include '{value}': kbundle reads requirement files from disk only",
                hint="Download the file and name its local path.",
            )
        path = base_dir / value
        display = os.path.normpath(path)
        resolved = path.resolve()
        if any(resolved == seen for seen, _ in chain):
            cycle = " -> ".join([*(shown for _, shown in chain), display])
            raise where.error(f"'{value}' includes itself: {cycle}")
        try:
            text = _read_text(path)
        except OSError as exc:
            raise where.error(
                f"cannot read the file '{value}' it includes ({display}): {exc.strerror}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise where.error(f"the file '{value}' it includes is not UTF-8 text") from exc
        self.parse(
            text, display, path.parent, constraint=constraint, chain=(*chain, (resolved, display))
        )


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig")


def _read_top_level(path: Path) -> str:
    try:
        return _read_text(path)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", source=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError("is not UTF-8 text", source=str(path)) from exc
