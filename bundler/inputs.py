"""Checks on what users type, made before any request is sent.

A name or URL that cannot work should fail at once, as bad input (exit 2),
not after retries against an index or as an error from the file system.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from packaging.utils import InvalidName, canonicalize_name

from bundler.errors import InputError

#: No project can have a longer name: its sdist ``<name>-<v>.tar.gz`` would
#: not fit in a file name (255 bytes on Linux file systems, and on indexes).
MAX_NAME_LENGTH = 255 - len("-0.tar.gz")

_URL_SCHEMES = ("http", "https", "file")


def check_project_name(name: str, source: str) -> str:
    """``name`` canonicalised; :class:`InputError` when no project can be called that."""
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(
            f"the project name {name[:40]}… is {len(name):,} characters long; no project "
            f"name can exceed {MAX_NAME_LENGTH} (its files would not fit in a file name)",
            source=source,
            hint="Check the requirement for a pasted blob or a missing separator.",
        )
    try:
        return str(canonicalize_name(name, validate=True))
    except InvalidName:
        raise InputError(
            f"{name!r} is not a valid project name",
            source=source,
            hint="Project names have letters, digits, '.', '-' and '_', and start and end "
            "with a letter or digit (PEP 508).",
        ) from None


def check_url(url: str, source: str) -> str:
    """``url`` unchanged when it can be fetched: http(s) with a host, or file."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InputError(f"{url!r} is not a valid URL: {exc}", source=source) from None
    scheme = parts.scheme.lower()
    if scheme not in _URL_SCHEMES or (scheme != "file" and not parts.hostname):
        raise InputError(
            f"{url!r} is not a URL kbundle can fetch",
            source=source,
            hint="Give an http://, https:// or file:// URL with a host name, e.g. "
            "https://pypi.org/simple/ (a local folder works with -f/--find-links).",
        )
    return url
