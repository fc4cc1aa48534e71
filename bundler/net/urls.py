"""URL helpers shared by the network layer and its callers.

Only string and path work: nothing here touches the network. ``file://``
URLs are what a local index or find-links directory is reached by, and any
URL shown to a user goes through :func:`redact_url` first.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from bundler.errors import InputError


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``****@`` (for messages and logs)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc="****@" + host))


def is_file_url(url: str) -> bool:
    """True for ``file:`` URLs."""
    return url[:5].lower() == "file:"


def file_url_to_path(url: str) -> Path:
    """The local path of a ``file://`` URL (``file:///x`` or ``file://localhost/x``)."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise InputError(f"{url}: only local file:// URLs are supported")
    # Linux only: a file URL's path is the file's path, %-escaped.
    return Path(unquote(parts.path))
