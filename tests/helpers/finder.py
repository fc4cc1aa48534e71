"""Finders over a test index, and small helpers to pick what they found."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from bundler.index.finder import Finder
from bundler.net.client import HttpClient
from bundler.net.transport import Transport
from bundler.request.index_config import IndexConfig

if TYPE_CHECKING:
    from bundler.index.simple_api import Link


def make_finder(
    *index_urls: str, offline: bool = False, refresh: bool = False, **options: object
) -> Finder:
    client = HttpClient(offline=offline, refresh=refresh, transport=Transport(backoff=0.01))
    return Finder(IndexConfig(index_urls, **options), client)  # type: ignore[arg-type]


def metadata_of(finder: Finder, link: Link) -> bytes:
    """The metadata of a file that has some."""
    data = finder.metadata(link)
    assert data is not None
    return data


def only(links: list[Link], suffix: str = ".whl") -> Link:
    (link,) = [link for link in links if link.filename.endswith(suffix)]
    return link


def static_index(root: Path, dists: Path) -> str:
    """A file:// index laid out like a static mirror: <root>/simple/<name>/index.html."""
    (root / "files").mkdir(parents=True)
    pages: dict[str, list[str]] = {}
    for path in sorted(dists.iterdir()):
        (root / "files" / path.name).write_bytes(path.read_bytes())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        href = f"../../files/{path.name}#sha256={digest}"
        pages.setdefault(path.name.split("-")[0], []).append(f'<a href="{href}">{path.name}</a>')
    for name, anchors in pages.items():
        page = root / "simple" / name / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"<!DOCTYPE html><html><body>{''.join(anchors)}</body></html>")
    return (root / "simple").as_uri()
