"""Parsers for the Simple Repository API: PEP 691 JSON and PEP 503 HTML pages.

Pure functions: page bytes and the page URL in, :class:`Link` values out. The
HTTP side only has to send :data:`ACCEPT` and hand the response's media type
to :func:`parse_page`.

Files whose names are neither a valid wheel nor a valid ``.tar.gz``/``.zip``
sdist (``.exe`` installers, eggs, non-PEP 440 versions) are skipped with a
debug log line; a malformed page as a whole is a :class:`NetworkError`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from packaging.tags import InvalidTag, parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

from bundler.errors import NetworkError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from packaging.tags import Tag
    from packaging.utils import BuildTag, NormalizedName
    from packaging.version import Version

log = logging.getLogger(__name__)

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
#: Prefer JSON, accept the versioned HTML, and plain HTML from static servers.
ACCEPT = f"{JSON_V1}, {HTML_V1};q=0.2, text/html;q=0.01"


@dataclass(frozen=True)
class Link:
    """One distribution file offered by an index page or a find-links source.

    ``yanked`` is None for a file that is not yanked, otherwise the reason
    ("" when none was given). ``metadata_hashes`` is None when no PEP 658
    metadata file is advertised and ``{}`` when one is, without hashes.
    ``url`` has no fragment; hashes live in ``hashes`` (lower-case hex).
    ``tags`` is empty and ``build`` is ``()`` for sdists. ``index_url`` is
    filled by the finder (None for find-links files).
    """

    filename: str
    url: str
    project: NormalizedName
    version: Version
    tags: frozenset[Tag]
    build: BuildTag
    hashes: Mapping[str, str] = field(default_factory=dict, hash=False)
    requires_python: str | None = None
    yanked: str | None = None
    metadata_hashes: Mapping[str, str] | None = field(default=None, hash=False)
    size: int | None = None
    upload_time: str | None = None
    index_url: str | None = None

    @property
    def is_wheel(self) -> bool:
        """True for a ``.whl`` file."""
        return self.filename.endswith(".whl")

    @property
    def is_sdist(self) -> bool:
        """True for a source distribution (``.tar.gz`` or ``.zip``)."""
        return not self.is_wheel

    @property
    def is_yanked(self) -> bool:
        """True when the index marks this file as yanked (PEP 592)."""
        return self.yanked is not None

    @property
    def sha256(self) -> str | None:
        """The sha256 the index lists for the file, if any."""
        return self.hashes.get("sha256")


def make_link(
    filename: str,
    url: str,
    *,
    hashes: Mapping[str, str] | None = None,
    requires_python: str | None = None,
    yanked: str | None = None,
    metadata_hashes: Mapping[str, str] | None = None,
    size: int | None = None,
    upload_time: str | None = None,
    index_url: str | None = None,
) -> Link | None:
    """A :class:`Link` for ``filename``, or None (logged) when it is not a
    wheel or sdist with a valid name and version."""
    try:
        if filename.endswith(".whl"):
            project, version, build, tags = _parse_wheel_filename(filename)
        else:
            project, version = parse_sdist_filename(filename)
            build, tags = (), frozenset()
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        log.debug("skipping %s: %s", filename, exc)
        return None
    return Link(
        filename=filename,
        url=url,
        project=project,
        version=version,
        tags=tags,
        build=build,
        hashes=dict(hashes or {}),
        requires_python=requires_python or None,
        yanked=yanked,
        metadata_hashes=None if metadata_hashes is None else dict(metadata_hashes),
        size=size,
        upload_time=upload_time,
        index_url=index_url,
    )


def _parse_wheel_filename(
    filename: str,
) -> tuple[NormalizedName, Version, BuildTag, frozenset[Tag]]:
    """:func:`packaging.utils.parse_wheel_filename` with the tag set memoised.

    A rich resolution reads tens of thousands of wheel names whose tag parts
    repeat a few hundred strings; parsing those is most of the time spent on
    project pages. packaging still validates name, version and build (the tag
    part is swapped for a trivial one), and parses each tag string once.
    """
    stem = filename[:-4]
    head, sep, tag_text = stem.rpartition("-")
    head, sep2, abi = head.rpartition("-")
    head, sep3, python = head.rpartition("-")
    if not (sep and sep2 and sep3):
        return parse_wheel_filename(filename)  # let packaging say what is wrong
    project, version, build, _ = parse_wheel_filename(f"{head}-py3-none-any.whl")
    try:
        tags = _tags(f"{python}-{abi}-{tag_text}")
    except InvalidTag as exc:
        # Real indexes hold such names (``py36+-none-any``): a file to skip,
        # like any other bad wheel name, never a crash of the whole page.
        raise InvalidWheelFilename(f"invalid tag in wheel filename {filename!r}: {exc}") from exc
    return project, version, build, tags


@functools.cache
def _tags(text: str) -> frozenset[Tag]:
    return parse_tag(text)


def parse_page(
    body: bytes, url: str, content_type: str, *, index_url: str | None = None
) -> list[Link]:
    """Parse a project page by its media type (the response's Content-Type);
    every link records ``index_url`` as the index it came from."""
    if content_type == JSON_V1:
        return parse_json_page(body, url, index_url=index_url)
    if content_type in (HTML_V1, "text/html"):
        return parse_html_page(body, url, index_url=index_url)
    raise NetworkError(f"{url} answered an unexpected content type {content_type!r}.")


def _check_api_version(version: object, url: str) -> None:
    # PEP 629: a major version we do not know means we cannot read the page;
    # a newer minor version is compatible by definition.
    if version is None:
        return
    major = str(version).partition(".")[0]
    if major != "1":
        raise NetworkError(
            f"{url} uses Simple API version {version}; kbundle understands 1.x.",
            hint="Upgrade kbundle.",
        )


def _hash_dict(value: object) -> dict[str, str]:
    """Keep the ``{algorithm: hex}`` entries of a JSON hashes object we understand."""
    if not isinstance(value, dict):
        return {}
    return {
        str(name).lower(): digest.lower()
        for name, digest in value.items()
        if str(name).lower() in hashlib.algorithms_guaranteed and isinstance(digest, str)
    }


def _absolute(href: str, base: str) -> str:
    """``href`` resolved against ``base``, without a fragment."""
    # Fast path: pages list thousands of absolute URLs, and urljoin dominates
    # parsing time.
    if href.startswith(("https://", "http://")) and "#" not in href:
        return href
    return urldefrag(urljoin(base, href)).url


def parse_json_page(body: bytes, url: str, *, index_url: str | None = None) -> list[Link]:
    """Parse a PEP 691 (v1) JSON project page; relative URLs resolve against ``url``."""
    try:
        page = json.loads(body)
        files = page["files"]
        meta = page.get("meta", {})
        if not isinstance(files, list) or not isinstance(meta, dict):
            raise TypeError("files must be a list")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NetworkError(f"{url} is not a valid Simple API JSON page: {exc}") from exc
    _check_api_version(meta.get("api-version"), url)
    links = []
    for entry in files:
        if not isinstance(entry, dict):
            continue
        filename, href = entry.get("filename"), entry.get("url")
        if not isinstance(filename, str) or not isinstance(href, str):
            log.debug("skipping a file entry without filename/url on %s", url)
            continue
        # PEP 714: "core-metadata" supersedes "dist-info-metadata"; either is
        # a bool or a hashes object.
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
        yanked = entry.get("yanked")
        requires_python = entry.get("requires-python")
        size = entry.get("size")
        upload_time = entry.get("upload-time")
        link = make_link(
            filename,
            _absolute(href, url),
            hashes=_hash_dict(entry.get("hashes")),
            requires_python=requires_python if isinstance(requires_python, str) else None,
            yanked=yanked if isinstance(yanked, str) else ("" if yanked is True else None),
            metadata_hashes=(
                _hash_dict(metadata) if isinstance(metadata, dict) else ({} if metadata else None)
            ),
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            upload_time=upload_time if isinstance(upload_time, str) else None,
            index_url=index_url,
        )
        if link is not None:
            links.append(link)
    return links


def _fragment_hashes(fragment: str) -> dict[str, str]:
    name, _, digest = fragment.partition("=")
    name = name.lower()
    if digest and name in hashlib.algorithms_guaranteed:
        return {name: digest.lower()}
    return {}


def _metadata_attribute(anchor: Mapping[str, str | None]) -> dict[str, str] | None:
    """PEP 714 ``data-core-metadata`` (or the older ``data-dist-info-metadata``):
    absent → None, "true" (or a bare attribute) → {}, "sha256=…" → {"sha256": …}."""
    for name in ("data-core-metadata", "data-dist-info-metadata"):
        if name in anchor:
            value = anchor[name] or "true"
            return None if value.lower() == "false" else _fragment_hashes(value)
    return None


def parse_html_page(body: bytes, url: str, *, index_url: str | None = None) -> list[Link]:
    """Parse a PEP 503 HTML project (or find-links) page.

    The file name is the last path segment of the ``href`` (as PEP 503
    requires it to match the anchor text); ``<base href>`` is honoured.
    """
    # html.parser (and html.entities) load only for an HTML page: a JSON index
    # or a find-links folder never needs them.
    from bundler.index.html_anchors import AnchorCollector

    collector = AnchorCollector()
    collector.feed(body.decode("utf-8", errors="replace"))
    collector.close()
    _check_api_version(collector.api_version, url)
    base = urljoin(url, collector.base) if collector.base else url
    links = []
    for anchor in collector.anchors:
        href = anchor["href"] or ""
        absolute, fragment = urldefrag(urljoin(base, href))
        filename = unquote(urlsplit(absolute).path.rpartition("/")[2])
        if not filename:
            continue
        link = make_link(
            filename,
            absolute,
            hashes=_fragment_hashes(fragment),
            requires_python=anchor.get("data-requires-python"),
            # A bare data-yanked attribute means yanked without a reason.
            yanked=(anchor["data-yanked"] or "") if "data-yanked" in anchor else None,
            metadata_hashes=_metadata_attribute(anchor),
            index_url=index_url,
        )
        if link is not None:
            links.append(link)
    return links
