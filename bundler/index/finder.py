"""Finding distribution files and their core metadata on package indexes.

Index priority is "first index that knows the name wins": indexes are asked
in order and the first one whose project page exists (anything but 404/410,
even a page listing no files) supplies every file for that name; later
indexes are not consulted and nothing is merged. This keeps a private or
CUDA-specific index from being shadowed by a same-named project elsewhere
(dependency confusion). Files from find-links locations are added to what
the winning index offers. A package pinned to an index looks only there:
neither other indexes nor find-links can supply it.

Metadata is cached on disk under ``cache_dir()/metadata``. A file with a
sha256 on the index is immutable, so its metadata is keyed by that sha256 and
kept forever; a file without one is keyed by URL and reused only offline.
Downloads go through ``cache_dir()/files`` the same way: a file there is
complete and verified, and an interrupted download waits next to it as a
``.part`` file that the next attempt resumes (see
:meth:`bundler.net.client.HttpClient.fetch_file`).
"""

from __future__ import annotations

import configparser
import hashlib
import logging
import os
import re
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Generic, TypeVar, cast
from urllib.parse import urljoin, urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bundler.cache import atomic_write, cache_dir, key_path, read_or_none
from bundler.errors import InputError, KbundleError, NetworkError, OfflineMiss
from bundler.index.lazy_wheel import InvalidWheel, fetch_wheel_metadata, metadata_from_wheel_file
from bundler.index.sdist_metadata import sdist_metadata, sdist_metadata_from_stream
from bundler.index.simple_api import ACCEPT, make_link, parse_html_page, parse_page
from bundler.net.errors import HashMismatch, HttpStatusError, RangeNotSupported
from bundler.net.urls import file_url_to_path, is_file_url, redact_url

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from packaging.utils import NormalizedName

    from bundler.index.simple_api import Link
    from bundler.net.client import Fetcher
    from bundler.net.download import Progress

log = logging.getLogger(__name__)

PYPI_SIMPLE_URL = "https://pypi.org/simple/"
#: How long a project page without its own Cache-Control is trusted before
#: revalidating (the same ten minutes PyPI itself announces).
PAGE_MAX_AGE = 600.0
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_OFFLINE_HINT = "Run once without --offline to fill the cache."

_K = TypeVar("_K")
_V = TypeVar("_V")


def default_index_url(environ: Mapping[str, str] = os.environ) -> str:
    """The index pip would use: ``PIP_INDEX_URL``, else ``index-url`` from pip's
    configuration files, else PyPI.

    Files are read in pip's order, later ones winning: ``$XDG_CONFIG_DIRS``
    (``/etc/xdg``)``/pip/pip.conf``, ``/etc/pip.conf``, ``~/.pip/pip.conf``,
    ``~/.config/pip/pip.conf``, ``$VIRTUAL_ENV/pip.conf``, ``$PIP_CONFIG_FILE``
    (``os.devnull`` disables them all). As for ``pip install``, an
    ``[install]`` value beats a ``[global]`` one. Extra indexes and
    find-links from pip's configuration are deliberately not used.
    """
    if value := environ.get("PIP_INDEX_URL", "").strip():
        return value
    found: dict[str, str] = {}
    for path in _pip_config_files(environ):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            log.debug("ignoring unreadable pip configuration %s: %s", path, exc)
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for key, value in parser.items(section):
                    if key.replace("_", "-") == "index-url" and value.strip():
                        found[section] = value.strip()
    return found.get("install") or found.get("global") or PYPI_SIMPLE_URL


def _pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    config_file = environ.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(directory, "pip", "pip.conf") for directory in xdg_dirs.split(":") if directory]
    files.append(Path("/etc/pip.conf"))
    # pip skips the user's files when PIP_CONFIG_FILE names an existing file.
    if not (config_file and Path(config_file).exists()):
        home = Path(environ.get("HOME") or Path.home())
        files.append(home / ".pip" / "pip.conf")
        files.append(Path(environ.get("XDG_CONFIG_HOME") or home / ".config", "pip", "pip.conf"))
    if virtual_env := environ.get("VIRTUAL_ENV"):
        files.append(Path(virtual_env, "pip.conf"))
    if config_file:
        files.append(Path(config_file))
    return files


def expand_index_url(url: str, cuda: str | Sequence[str] | None) -> tuple[str, ...]:
    """``url`` with ``{cuda}`` filled in, each with a trailing slash.

    ``cuda`` is one CUDA tag ("cu121") or several in order of preference
    (:func:`bundler.target.cuda.index_tags`): a URL with ``{cuda}`` becomes one URL
    per tag, best first, so a CUDA-variant index that has no build for the
    image's exact CUDA falls back to the closest one the driver can run.
    Raises InputError for ``{cuda}`` without a CUDA tag or any other placeholder.
    """
    tags = (cuda,) if isinstance(cuda, str) else tuple(cuda or ())
    for match in _PLACEHOLDER.finditer(url):
        if match.group(1) != "cuda":
            raise InputError(f"unknown placeholder {match.group(0)} in index URL {url}")
        if not tags:
            raise InputError(
                f"index URL {url} needs a CUDA tag for {{cuda}}",
                hint="Use a target with CUDA (for example cu121) or drop the placeholder.",
            )
    expanded = [url.replace("{cuda}", tag) for tag in tags] if "{cuda}" in url else [url]
    return tuple(u if u.endswith("/") else u + "/" for u in expanded)


@dataclass(frozen=True)
class IndexConfig:
    """Where distributions come from.

    ``index_urls`` in priority order (see the module docstring), each may use
    a ``{cuda}`` placeholder filled from ``cuda`` (a tag such as "cu121", or
    tags in order of preference); ``find_links`` are local directories, local
    HTML files or HTML page URLs; ``pins`` maps a project name to the one
    index URL it may come from.
    """

    index_urls: tuple[str, ...] = (PYPI_SIMPLE_URL,)
    find_links: tuple[str, ...] = ()
    pins: Mapping[str, str] = field(default_factory=dict, hash=False)
    cuda: str | tuple[str, ...] | None = None
    #: Pinned projects that may fall back to the ordinary indexes (and so to
    #: an sdist to build) when no pinned index has them or none answers:
    #: ``--cuda-index``, whose wheel indexes cover some versions only.
    pin_fallback: frozenset[str] = frozenset()

    def expanded_index_urls(self) -> tuple[str, ...]:
        """The index URLs with placeholders filled (InputError when impossible)."""
        return tuple(u for url in self.index_urls for u in expand_index_url(url, self.cuda))

    def expanded_pins(self) -> dict[NormalizedName, tuple[str, ...]]:
        """Canonical project name → its index URLs, filled, best first."""
        return {canonicalize_name(k): expand_index_url(v, self.cuda) for k, v in self.pins.items()}


class DownloadError(NetworkError):
    """Some files of a :meth:`Finder.download_all` could not be downloaded.

    ``failures`` maps each failed link to its error (in the order asked);
    ``downloaded`` holds the files that did arrive, already in place.
    """

    def __init__(
        self, failures: Mapping[Link, KbundleError], downloaded: Mapping[Link, Path]
    ) -> None:
        # A hint shared by every failure (say, offline or no network) is
        # given once at the end; otherwise each line keeps its own.
        hints = {error.hint for error in failures.values()}
        shared = len(hints) == 1
        total = len(failures) + len(downloaded)
        lines = [f"{len(failures)} of {total} files could not be downloaded:"]
        lines += [
            f"  {link.filename}: {error.message if shared else error}"
            for link, error in failures.items()
        ]
        super().__init__("\n".join(lines), hint=hints.pop() if shared else None)
        self.failures = dict(failures)
        self.downloaded = dict(downloaded)


class _Memo(Generic[_K, _V]):
    """Thread-safe memoisation where concurrent callers of one key share one
    computation. A KbundleError is remembered like a value (so a failed fetch
    is not retried by every caller); any other exception is not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[_K, Future[_V]] = {}

    def get(self, key: _K, compute: Callable[[], _V]) -> _V:
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = self._futures[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except KbundleError as exc:
                future.set_exception(exc)
            except BaseException as exc:
                with self._lock:
                    del self._futures[key]
                future.set_exception(exc)
                raise
        return future.result()


class Finder:
    """Project files and core metadata from the configured indexes.

    Thread-safe: :meth:`prefetch_metadata` shares the client's connection
    pool across worker threads, and every result is memoised for the
    lifetime of the object.
    """

    def __init__(
        self,
        config: IndexConfig,
        client: Fetcher,
        *,
        cache_root: Path | None = None,
        workers: int = 16,
    ) -> None:
        self.config = config
        self._client = client
        self._indexes = config.expanded_index_urls()
        self._pins = config.expanded_pins()
        self._root = cache_root or cache_dir()
        self._workers = workers
        self._files: _Memo[str, list[Link]] = _Memo()
        self._find_links: _Memo[str, list[Link]] = _Memo()
        self._metadata: _Memo[str, bytes] = _Memo()
        #: Project → why its pinned indexes could not be reached (when it fell back).
        self.unreachable: dict[NormalizedName, list[str]] = {}

    # -- files ----------------------------------------------------------------

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

    # -- metadata -------------------------------------------------------------

    def metadata(self, link: Link) -> bytes | None:
        """The core metadata (``METADATA``/``PKG-INFO`` bytes) of ``link``.

        Wheels: the PEP 658 file when the index advertises one (hash-checked),
        else a range read of the wheel, else a full download. Sdists: their
        static metadata (see :mod:`bundler.index.sdist_metadata`), or None when
        only a build backend could tell.
        """
        key = link.sha256 or link.url
        return self._metadata.get(key, lambda: self._load_metadata(link)) or None

    def prefetch_metadata(self, links: Iterable[Link]) -> None:
        """Fetch the metadata of ``links`` in parallel into the memo and cache.

        Failures are remembered and raised by a later :meth:`metadata` call.
        """
        pending = list({link.sha256 or link.url: link for link in links}.values())
        if not pending:
            return
        with ThreadPoolExecutor(max_workers=min(self._workers, len(pending))) as pool:
            futures = [pool.submit(self.metadata, link) for link in pending]
        for future in futures:
            if isinstance(future.exception(), KbundleError):
                log.debug("prefetch failed: %s", future.exception())
            else:
                future.result()

    def _metadata_path(self, link: Link) -> Path:
        if link.sha256 is not None:
            return self._root / "metadata" / "sha256" / link.sha256[:2] / link.sha256
        return key_path(self._root / "metadata" / "url", link.url)

    def _load_metadata(self, link: Link) -> bytes:
        """The metadata, or b"" for an sdist without static metadata."""
        if is_file_url(link.url):
            # Local files are read directly: as fast as a cache, never stale.
            path = file_url_to_path(link.url)
            if link.is_wheel:
                return _checked(link, metadata_from_wheel_file(path, link.filename))
            return _checked(link, sdist_metadata(path, link.filename) or b"")
        path = self._metadata_path(link)
        # URL-keyed entries may be outdated: trust them only when offline.
        if link.sha256 is not None or self._client.offline:
            cached = read_or_none(path)
            if cached is not None:
                return cached
        try:
            data = self._fetch_metadata(link)
        except OfflineMiss as exc:
            raise OfflineMiss(
                f"Metadata of {redact_url(link.url)} is not in the cache.", hint=_OFFLINE_HINT
            ) from exc
        # An empty entry records "an sdist without static metadata".
        atomic_write(path, data)
        return data

    def _fetch_metadata(self, link: Link) -> bytes:
        if not link.is_wheel:
            if link.filename.endswith(".tar.gz") and not is_file_url(link.url):
                try:
                    stream = _RangeStream(self._client, link.url, link.size)
                    found = sdist_metadata_from_stream(cast("IO[bytes]", stream), link.filename)
                    log.debug(
                        "%s: read %d bytes for its metadata", link.filename, stream.read_bytes
                    )
                    return _checked(link, found or b"")
                except (RangeNotSupported, _Unsettled) as exc:
                    log.info("downloading all of %s: %s", link.filename, exc)
            return _checked(link, sdist_metadata(self._to_cache(link), link.filename) or b"")
        if link.metadata_hashes is not None:
            data = self._core_metadata_file(link)
            if data is not None:
                return _checked(link, data)
        try:
            return _checked(link, fetch_wheel_metadata(self._client, link.url, link.filename))
        except (RangeNotSupported, InvalidWheel) as exc:
            log.info("downloading all of %s: %s", link.filename, exc)
        return _checked(link, metadata_from_wheel_file(self._to_cache(link), link.filename))

    def _core_metadata_file(self, link: Link) -> bytes | None:
        """The PEP 658 ``<file>.metadata``; None when the index lacks it after all."""
        url = link.url + ".metadata"
        response = self._client.get(url, cache=False)
        if response.status in (404, 410):
            log.info("%s is advertised but missing", redact_url(url))
            return None
        response.raise_for_status()
        for algorithm, expected in (link.metadata_hashes or {}).items():
            actual = hashlib.new(algorithm, response.body).hexdigest()
            if actual != expected:
                raise HashMismatch(url, algorithm, expected, actual)
        return response.body

    # -- files on disk ----------------------------------------------------------

    def _cache_path(self, link: Link) -> Path:
        """Where the file of a remote ``link`` lives in the cache."""
        if link.sha256 is not None:
            return self._root / "files" / link.sha256[:2] / link.sha256 / link.filename
        return key_path(self._root / "files" / "url", link.url) / link.filename

    def cached_file(self, link: Link) -> Path | None:
        """The file of ``link`` if it is available without network I/O, else None.

        That is the cache entry of a file with a sha256 (written only once
        verified), a URL-keyed entry of a file without one only when offline
        (online such a file may have changed, so it is fetched again), and
        the local file itself for a ``file://`` link. Exactly when this is
        not None, :meth:`download` touches no network.
        """
        if is_file_url(link.url):
            path = file_url_to_path(link.url)
            return path if path.is_file() else None
        path = self._cache_path(link)
        if link.sha256 is None and not self._client.offline:
            return None
        return path if path.is_file() else None

    def _to_cache(self, link: Link, progress: Progress | None = None) -> Path:
        """``link`` downloaded into the cache (verified when it has a sha256)."""
        path = self.cached_file(link)
        if path is not None:
            if progress is not None:
                # One call with the whole size, so a progress bar completes.
                size = path.stat().st_size
                progress(size, size)
            return path
        path = self._cache_path(link)
        self._client.fetch_file(link.url, path, sha256=link.sha256, progress=progress)
        return path

    def download(self, link: Link, dest_dir: Path, *, progress: Progress | None = None) -> Path:
        """Place the file of ``link`` in ``dest_dir`` and return its path.

        Remote files are downloaded into the cache first (streamed, hashed,
        checked against the index's sha256 and resumed when interrupted)
        and then hard-linked, or copied, into ``dest_dir``, so a later
        offline run can still vendor them. A file already cached needs no
        network I/O (see :meth:`cached_file`). ``dest_dir`` only ever holds
        complete files. ``progress`` is called as bytes arrive (see
        :data:`bundler.net.download.Progress`); for a cached file, once with its size.
        """
        dest = dest_dir / link.filename
        if is_file_url(link.url):
            self._client.fetch_file(link.url, dest, sha256=link.sha256, progress=progress)
            return dest
        source = self._to_cache(link, progress)
        dest_dir.mkdir(parents=True, exist_ok=True)
        temporary = dest_dir / f".tmp-{os.getpid()}-{threading.get_ident()}-{link.filename}"
        temporary.unlink(missing_ok=True)
        try:
            os.link(source, temporary)
        except OSError:  # another file system, or no hard links there
            shutil.copyfile(source, temporary)
        temporary.replace(dest)
        return dest

    def download_all(
        self,
        links: Iterable[Link],
        dest_dir: Path,
        *,
        workers: int = 8,
        progress_factory: Callable[[Link], Progress | None] | None = None,
    ) -> dict[Link, Path]:
        """:meth:`download` every link into ``dest_dir`` in parallel; link → path.

        ``workers`` threads share the client's connection pool.
        ``progress_factory(link)`` gives each file its progress callback.
        Every download runs to its end even when others fail; then all the
        failures are raised together as one :class:`DownloadError` (which
        also lists the files that did arrive). An unexpected exception (a
        bug, not a :class:`~bundler.errors.KbundleError`) is re-raised as is.
        """
        pending = list(dict.fromkeys(links))  # one download per distinct link
        if not pending:
            return {}
        pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(pending))))
        try:
            futures = {
                link: pool.submit(
                    self.download,
                    link,
                    dest_dir,
                    progress=progress_factory(link) if progress_factory is not None else None,
                )
                for link in pending
            }
            wait(futures.values())
        except BaseException:
            # Ctrl-C: start nothing new. Running downloads finish their file
            # (threads cannot be stopped); a killed process leaves .part
            # files that the next run resumes.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        downloaded: dict[Link, Path] = {}
        failures: dict[Link, KbundleError] = {}
        for link, future in futures.items():
            error = future.exception()
            if error is None:
                downloaded[link] = future.result()
            elif isinstance(error, KbundleError):
                failures[link] = error
            else:
                raise error
        if failures:
            raise DownloadError(failures, downloaded)
        return downloaded


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _Unsettled(Exception):
    """The metadata was not found early in the sdist: download it whole (and keep it)."""


class _RangeStream:
    """The front of a remote file, read sequentially with HTTP range requests.

    An sdist's static metadata is often well before its end
    (llama-cpp-python's ``pyproject.toml`` is 40 MB into a 77 MB file, its
    ``PKG-INFO`` last). Past the budget (60% of the file, at least 16 MB) the
    caller downloads the file whole instead, which also keeps it for a build.
    """

    FIRST = 1 << 20
    CHUNK = 4 << 20
    MIN_BUDGET = 16 << 20

    def __init__(self, client: Fetcher, url: str, size: int | None) -> None:
        self._client = client
        self._url = url
        self._size = size
        self._budget = max(self.MIN_BUDGET, int((size or 0) * 0.6))
        self._buffer = bytearray()
        self._position = 0  # of the first byte not yet fetched
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            if self._size is not None and self._position >= self._size:
                break
            if self._position >= self._budget:
                raise _Unsettled(f"no static metadata in the first {self._budget >> 20} MB")
            start = self._position
            end = min(start + (self.CHUNK if start else self.FIRST), self._budget) - 1
            if self._size is not None:
                end = min(end, self._size - 1)
            try:
                data = self._client.get_range(self._url, start, end)
            except HttpStatusError as exc:
                if exc.status != 416 or start == 0:  # 416: starts at the end of the file
                    raise
                data = b""
            if len(data) < end - start + 1:
                self._size = start + len(data)  # a short answer: the end of the file
            self._position += len(data)
            self.read_bytes += len(data)
            self._buffer += data
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _checked(link: Link, metadata: bytes) -> bytes:
    """``metadata`` after checking that its Name and Version match the file name."""
    if not metadata:
        return metadata
    headers = BytesHeaderParser().parsebytes(metadata)
    name, version = headers.get("Name"), headers.get("Version")
    try:
        same = (
            canonicalize_name(str(name)) == link.project and Version(str(version)) == link.version
        )
    except InvalidVersion:
        same = False
    if not same:
        raise NetworkError(
            f"{link.filename} holds metadata for {name} {version}.",
            hint="The index serves inconsistent data; report it to its maintainers.",
        )
    return metadata
