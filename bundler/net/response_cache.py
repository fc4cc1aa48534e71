"""The on-disk HTTP cache: one file per (URL, Accept), and when it is fresh.

Entries live under ``cache_dir()/http``, keyed by the sha256 of the URL and
the Accept header (JSON and HTML answers to one URL differ), each a JSON line
of metadata followed by the body, written atomically. Freshness follows
``Cache-Control`` (``max-age``, ``no-cache``, ``no-store``) with the caller's
default lifetime when the server sets none; a stale entry is revalidated
with its ETag or Last-Modified. Only whole 200/404/410 answers are stored:
ranges and downloads never pass through here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bundler.cache import atomic_write, key_path, read_or_none
from bundler.net.transport import Response
from bundler.net.urls import redact_url

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

log = logging.getLogger(__name__)

#: Statuses stored in the HTTP cache; 404/410 too, so an offline run still
#: knows which index does not have a project.
_CACHEABLE = frozenset({200, 404, 410})
#: Response headers kept in a cache entry.
_KEPT_HEADERS = ("content-type", "etag", "last-modified", "cache-control", "age")


class ResponseCache:
    """The entries under ``directory``; safe for concurrent threads and processes."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def path(self, url: str, accept: str) -> Path:
        """Where the entry for ``url`` asked for with ``Accept: accept`` lives."""
        return key_path(self._directory, url + "\n" + accept)

    def load(self, path: Path, url: str) -> Entry | None:
        """The entry at ``path`` (stored for ``url``); None when missing or unreadable."""
        data = read_or_none(path)
        return Entry.decode(data, url) if data is not None else None

    def store(self, path: Path, url: str, response: Response, now: float) -> None:
        """Keep ``response`` (just received for ``url`` at ``now``) if it may be kept."""
        if response.status not in _CACHEABLE:
            return
        if "no-store" in cache_control(response.headers):
            path.unlink(missing_ok=True)
            return
        age = _int_or_none(response.headers.get("age")) or 0
        entry = Entry(
            Response(response.url, response.status, _kept(response.headers), response.body),
            now - age,
        )
        atomic_write(path, entry.encode(url))


@dataclass(frozen=True)
class Entry:
    """One stored response; ``stored_at`` is when it was last known fresh at age 0."""

    response: Response
    stored_at: float

    def is_fresh(self, now: float, default_max_age: float | None) -> bool:
        """May the response be used at ``now`` without asking the server?"""
        directives = cache_control(self.response.headers)
        if "no-cache" in directives:
            return False
        max_age = _int_or_none(directives.get("max-age"))
        lifetime = max_age if max_age is not None else default_max_age
        return lifetime is not None and now - self.stored_at < lifetime

    def validators(self) -> dict[str, str]:
        """The conditional request headers that revalidate this entry."""
        headers = {}
        if etag := self.response.headers.get("etag"):
            headers["If-None-Match"] = etag
        if modified := self.response.headers.get("last-modified"):
            headers["If-Modified-Since"] = modified
        return headers

    def revalidated(self, not_modified: Response) -> Response:
        """The stored response, with the headers of the 304 that confirmed it."""
        merged = {**self.response.headers, **_kept(not_modified.headers)}
        return replace(self.response, headers=merged)

    def encode(self, request_url: str) -> bytes:
        meta = {
            "status": self.response.status,
            # The request URL may carry credentials: store only a redirect target.
            "url": None if self.response.url == request_url else self.response.url,
            "headers": dict(self.response.headers),
            "stored_at": self.stored_at,
        }
        return json.dumps(meta).encode() + b"\n" + self.response.body

    @classmethod
    def decode(cls, data: bytes, request_url: str) -> Entry | None:
        line, _, body = data.partition(b"\n")
        try:
            meta = json.loads(line)
            response = Response(
                url=meta["url"] or request_url,
                status=int(meta["status"]),
                headers={str(k): str(v) for k, v in meta["headers"].items()},
                body=body,
                from_cache=True,
            )
            return cls(response, float(meta["stored_at"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.debug("ignoring unreadable cache entry for %s", redact_url(request_url))
            return None


def cache_control(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``Cache-Control`` directives of ``headers``: lower-case name → value ("" if none)."""
    directives: dict[str, str] = {}
    for item in headers.get("cache-control", "").split(","):
        name, _, value = item.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip().strip('"')
    return directives


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in _KEPT_HEADERS if name in headers}
