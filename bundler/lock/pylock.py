"""The lock file: a PEP 751 ``pylock.toml`` plus kbundle's facts under ``[tool.kbundle]``.

Standard installers (``pip``, ``uv``) can install the ``[[packages]]`` of a
kbundle lock; kbundle itself needs more, so the lock also records:

.. code-block:: toml

    [tool.kbundle]
    target = "kaggle-cpu-2026"          # the target's name
    fingerprint = "sha256:..."          # Target.fingerprint when it was locked
    kbundle-version = "0.1.0"
    requirements = ["pandas>=2", ...]   # the user's top-level requirements
    build = ["name", ...]               # packages built from their sdist
    # ... Lock.extra entries, verbatim

    [tool.kbundle.image]                # provided by the image: name = version
    [tool.kbundle.shadowed]             # vendored over the image: name = image's version
    [tool.kbundle.image-dependencies]   # name = [dependency names], see below

PEP 751 needs a file for every package, so image-provided packages are not
``[[packages]]``; ``packages.dependencies`` lists only ``[[packages]]`` entries.
The dependency edges that touch the image (a vendored package requiring an
image one, and every edge of an image package) are ``image-dependencies``.

Rendering is deterministic: packages, dependencies and tables are sorted,
names are canonical (PEP 751 requires normalized names) and there is no
timestamp, so the same :class:`~bundler.lock.model.Lock` gives the same bytes.
A lock with canonical names, sorted dependencies and ``upload_time`` written
as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` round-trips exactly through
:func:`~bundler.lock.pylock_write.render_lock` and
:func:`~bundler.lock.pylock_read.parse_lock`.

This module holds what both directions share: the layout above, its fixed
keys, RFC 3339 times and how a PEP 751 validation error is told to a reader.
Writing is :mod:`bundler.lock.pylock_write`, reading
:mod:`bundler.lock.pylock_read`; neither is the ``requirements.txt`` export
(:mod:`bundler.lock.requirements_txt`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from packaging.pylock import PylockValidationError

__all__ = [
    "CREATED_BY",
    "KBUNDLE_TABLES",
    "LOCK_VERSION",
    "RESERVED_KEYS",
    "describe",
    "format_time",
    "parse_time",
]

LOCK_VERSION = "1.0"
CREATED_BY = "kbundle"
# The scalar and list keys of [tool.kbundle], and its tables; Lock.extra may use neither.
RESERVED_KEYS = ("target", "fingerprint", "kbundle-version", "requirements", "build")
KBUNDLE_TABLES = ("image", "shadowed", "image-dependencies")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?$"
)


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime (no offset means UTC, as PEP 700 says).

    By hand rather than ``datetime.fromisoformat``: Python 3.10 accepts
    neither ``Z`` nor fractions that are not 3 or 6 digits long.
    """
    match = _RFC3339.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if offset and offset not in "Zz":
        sign = 1 if offset[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    try:
        when = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
    except ValueError:
        return None
    return when.astimezone(timezone.utc)


def format_time(when: datetime) -> str:
    """The RFC 3339 UTC text kbundle uses: ``2024-06-13T13:42:13.498145Z``."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}"
    return text + "Z"


def describe(exc: PylockValidationError, data: Mapping[str, Any]) -> str:
    """The first line of a validation error, with the key and the package it is about."""
    # packaging puts a caret diagram under marker and specifier errors; the
    # CLI prints one paragraph, so only the first line is kept.
    message = exc.message.splitlines()[0] if exc.message else "invalid"
    if not exc.context:
        return message
    where = f"key '{exc.context}'"
    # "packages[3]..." means little to a reader; add the package's name.
    match = re.match(r"packages\[(\d+)\]", exc.context)
    packages = data.get("packages")
    if match and isinstance(packages, list) and int(match.group(1)) < len(packages):
        entry = packages[int(match.group(1))]
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            where += f" (package {entry['name']})"
    return f"{where}: {message}"
