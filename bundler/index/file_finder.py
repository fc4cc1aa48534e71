"""Which files each project offers, across the configured indexes and find-links.

Index priority is "first index that knows the name wins": indexes are asked
in order and the first one whose project page exists (anything but 404/410,
even a page listing no files) supplies every file for that name; later
indexes are not consulted and nothing is merged. This keeps a private or
CUDA-specific index from being shadowed by a same-named project elsewhere
(dependency confusion). Files from find-links locations are added to what
the winning index offers. A package pinned to an index looks only there:
neither other indexes nor find-links can supply it (unless the pin may fall
back, as ``--cuda-index`` pins do).

Only the lists of files are found here; their metadata is
:mod:`bundler.index.metadata_store`'s and their bytes :mod:`bundler.index.download`'s.
"""

from __future__ import annotations

import hashlib
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from packaging.utils import canonicalize_name

from bundler.cache import atomic_write, key_path, read_or_none
from bundler.errors import InputError, NetworkError
from bundler.index.memo import Memo
from bundler.index.simple_api import ACCEPT, make_link, parse_html_page, parse_page
from bundler.net.urls import file_url_to_path, is_file_url, redact_url

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from bundler.index.simple_api import Link
    from bundler.net.client import HttpClient
    from bundler.request.index_config import IndexConfig

log = logging.getLogger(__name__)

#: How long a project page without its own Cache-Control is trusted before
#: revalidating (the same ten minutes PyPI itself announces).
PAGE_MAX_AGE = 600.0


class FileFinder:
    """The files of each project, per the priority rules in the module docstring.

    Thread-safe, and memoised for the lifetime of the object. ``cache_root``
    holds the remembered sha256 of local find-links files.
    """

    def __init__(self, config: IndexConfig, client: HttpClient, *, cache_root: Path) -> None:
        self.config = config
        self._client = client
        self._indexes = config.expanded_index_urls()
        self._pins = config.expanded_pins()
        self._root = cache_root
        self._files: Memo[str, list[Link]] = Memo()
        self._find_links: Memo[str, list[Link]] = Memo()
        #: Project → why its pinned indexes could not be reached (when it fell back).
        self.unreachable: dict[NormalizedName, list[str]] = {}

    def files(self, name: str) -> list[Link]:
        """Every file offered for project ``name`` (see the module docstring
        for which sources count). An unknown name gives an empty list."""
        project = canonicalize_name(name)
        return list(self._files.get(project, lambda: self._find_files(project)))

    def _find_files(self, project: NormalizedName) -> list[Link]:
        pinned = self._pins.get(project)
        if pinned is not None:
            fallback = project in self.config.pin_fallback
            unreachable: set[str] = set()
            for index_url in pinned:
                host = urlsplit(index_url).netloc
                if host in unreachable:
                    continue  # one failed host is enough: its other variants fail too
                try:
                    page = self._project_page(index_url, project)
                except NetworkError as exc:
                    if not fallback:
                        raise
                    unreachable.add(host)
                    self.unreachable.setdefault(project, []).append(exc.message)
                    log.warning("%s is not reachable (%s)", redact_url(index_url), exc.message)
                    continue
                if page is not None:
                    return page
            if not fallback:
                return []
            log.warning("no CUDA wheel index has %s; falling back to the ordinary indexes", project)
        links: list[Link] = []
        for index_url in self._indexes:
            page = self._project_page(index_url, project)
            if page is not None:
                links = page
                break
        for location in self.config.find_links:
            found = self._find_links.get(location, partial(self._load_find_links, location))
            links += [link for link in found if link.project == project]
        return links

    def _project_page(self, index_url: str, project: NormalizedName) -> list[Link] | None:
        """The links of ``project`` on one index; None when the index does not know it."""
        response = self._client.get(
            urljoin(index_url, project + "/"), headers={"Accept": ACCEPT}, max_age=PAGE_MAX_AGE
        )
        if response.status in (404, 410):
            return None
        response.raise_for_status()
        links = []
        page = parse_page(response.body, response.url, response.content_type, index_url=index_url)
        for link in page:
            if link.project == project:
                links.append(link)
            else:
                log.debug("%s lists %s, not a %s file", redact_url(index_url), link, project)
        return links

    def _load_find_links(self, location: str) -> list[Link]:
        if not is_file_url(location) and "://" in location:
            response = self._client.get(
                location, headers={"Accept": "text/html"}, max_age=PAGE_MAX_AGE
            )
            response.raise_for_status()
            return parse_html_page(response.body, response.url)
        path = file_url_to_path(location) if is_file_url(location) else Path(location).expanduser()
        if path.is_dir():
            # Local files are hashed here: a lock pins every file by sha256,
            # and a folder of wheels has no index to tell it.
            candidates = (
                make_link(
                    entry.name,
                    entry.resolve().as_uri(),
                    hashes={"sha256": self._local_sha256(entry)},
                    size=entry.stat().st_size,
                )
                for entry in sorted(path.iterdir())
                if entry.is_file() and entry.name.endswith((".whl", ".tar.gz", ".zip"))
            )
            return [link for link in candidates if link is not None]
        if path.is_file():
            return parse_html_page(path.read_bytes(), path.resolve().as_uri())
        raise InputError(f"find-links location {location} does not exist")

    def _local_sha256(self, path: Path) -> str:
        """The sha256 of a local file, remembered by its path, size and mtime.

        A big wheelhouse would otherwise be read whole on every lock; a file
        that is rewritten gets a new size or modification time (the unpacked-wheel
        cache trusts the same signal).
        """
        st = path.stat()
        key = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}"
        memo = key_path(self._root / "local-sha256", key)
        known = read_or_none(memo)
        if known is not None and len(known) == 64:
            return known.decode("ascii")
        digest = _file_sha256(path)
        atomic_write(memo, digest.encode("ascii"))
        return digest


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
