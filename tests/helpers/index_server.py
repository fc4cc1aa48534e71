"""A loopback package index for tests: PEP 691 JSON and PEP 503 HTML pages.

``IndexServer({"simple": dir})`` serves every wheel/sdist in ``dir``:

* ``/simple/<project>/``: the project page, JSON or HTML by the ``Accept``
  header (404 for a project with no files), with an ETag (304 on a matching
  ``If-None-Match``) and an optional Cache-Control header;
* ``/simple/files/<filename>``: the file, honouring a single ``Range`` (206)
  and ``If-Range`` against its ETag (served while ``use_etags`` is true);
* ``/simple/files/<filename>.metadata``: the wheel's METADATA (PEP 658),
  advertised with its sha256 while ``serve_metadata`` is true.

JSON pages use absolute file URLs and HTML pages relative ones, so both URL
forms are exercised. Every request is recorded in :attr:`IndexServer.log`,
and :meth:`IndexServer.fail` injects a 500 or a connection dropped mid-body
(after half the body, or after a given number of bytes).
Several indexes can share one server under different prefixes (for example
``whl/cu121`` and ``whl/cu124``). The directories are scanned per request, so
files added after start are served too.
"""

from __future__ import annotations

import email.parser
import hashlib
import html
import json
import ssl
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class Request:
    """One request the server saw; ``status`` is set before the response is sent."""

    method: str
    path: str
    headers: Mapping[str, str]
    status: int = 0


@dataclass
class _Failure:
    path_part: str
    kind: Literal["500", "drop"]
    remaining: int
    #: For "drop": body bytes sent before hanging up (None: half the body).
    after: int | None = None


@dataclass
class _Dist:
    filename: str
    path: Path
    project: str

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    def metadata(self) -> bytes | None:
        if not self.filename.endswith(".whl"):
            return None
        with zipfile.ZipFile(self.path) as archive:
            for name in archive.namelist():
                if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
                    return archive.read(name)
        return None


@dataclass(frozen=True)
class _FileInfo:
    filename: str
    sha256: str
    size: int
    requires_python: str | None
    yanked: str | None
    metadata_sha256: str | None

    def json_entry(self, files_url: str) -> dict[str, object]:
        entry: dict[str, object] = {
            "filename": self.filename,
            "url": files_url + self.filename,
            "hashes": {"sha256": self.sha256},
            "requires-python": self.requires_python,
            "size": self.size,
            "upload-time": "2024-01-02T03:04:05.000000Z",
            # PEP 691: true, or a non-empty reason string.
            "yanked": (self.yanked or True) if self.yanked is not None else False,
        }
        if self.metadata_sha256 is not None:
            entry["core-metadata"] = {"sha256": self.metadata_sha256}
        return entry

    def html_anchor(self, files_href: str) -> str:
        attributes = [f'href="{files_href}{self.filename}#sha256={self.sha256}"']
        if self.requires_python:
            attributes.append(f'data-requires-python="{html.escape(self.requires_python)}"')
        if self.yanked is not None:
            attributes.append(f'data-yanked="{html.escape(self.yanked)}"')
        if self.metadata_sha256 is not None:
            attributes.append(f'data-core-metadata="sha256={self.metadata_sha256}"')
        return f"<a {' '.join(attributes)}>{html.escape(self.filename)}</a><br/>"


@dataclass
class IndexServer:
    """A threaded HTTP server on 127.0.0.1 (a random port) serving indexes.

    The switches are plain attributes that tests flip at any time.
    """

    indexes: Mapping[str, Path]
    serve_metadata: bool = True
    serve_json: bool = True
    honor_ranges: bool = True
    use_etags: bool = True
    cache_control: str | None = None
    #: filename → bytes served as its .metadata instead of the real METADATA
    #: (the advertised hash stays that of the real one).
    metadata_overrides: dict[str, bytes] = field(default_factory=dict)
    #: filename → yank reason ("" for no reason).
    yanked: dict[str, str] = field(default_factory=dict)
    #: A PEM file with the server's key and certificate: serve HTTPS instead.
    tls_cert: Path | None = None
    log: list[Request] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> IndexServer:
        handler = type("Handler", (_Handler,), {"index": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        if self.tls_cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls_cert)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent); the port is closed afterwards."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> IndexServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- for tests -----------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/`` (``https`` with ``tls_cert``)."""
        assert self._server is not None, "start the server first"
        scheme = "https" if self.tls_cert is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}/"

    def index_url(self, prefix: str = "simple") -> str:
        """The index URL of one prefix, with a trailing slash."""
        return f"{self.url}{prefix}/"

    def fail(
        self,
        path_part: str,
        kind: Literal["500", "drop"],
        times: int = 1,
        *,
        after: int | None = None,
    ) -> None:
        """Make the next ``times`` requests whose path contains ``path_part`` fail.

        A "drop" promises the whole body, sends ``after`` bytes of it (half
        when None) and hangs up.
        """
        with self._lock:
            self._failures.append(_Failure(path_part, kind, times, after))

    def requests(self, path_part: str = "") -> list[Request]:
        """The requests with ``path_part`` in their path, in order."""
        return [request for request in self.log if path_part in request.path]

    def count(self, path_part: str = "", *, ranged: bool | None = None) -> int:
        """How many requests had ``path_part`` in their path (optionally only
        ranged or only unranged ones)."""
        return sum(
            1
            for request in self.log
            if path_part in request.path
            and (ranged is None or ("range" in request.headers) == ranged)
        )

    # -- serving --------------------------------------------------------------

    def _take_failure(self, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.path_part in path and failure.remaining > 0:
                    failure.remaining -= 1
                    return failure
        return None

    def _dists(self, prefix: str) -> list[_Dist]:
        directory = self.indexes[prefix]
        found = []
        for path in sorted(directory.iterdir()) if directory.is_dir() else ():
            try:
                if path.name.endswith(".whl"):
                    project = parse_wheel_filename(path.name)[0]
                else:
                    project = parse_sdist_filename(path.name)[0]
            except (InvalidWheelFilename, InvalidSdistFilename):
                continue
            found.append(_Dist(path.name, path, project))
        return found

    def _info(self, dist: _Dist) -> _FileInfo:
        data = dist.data
        metadata = dist.metadata()
        requires_python = None
        if metadata is not None:
            headers = email.parser.BytesHeaderParser().parsebytes(metadata)
            requires_python = headers.get("Requires-Python")
        served = self.serve_metadata and metadata is not None
        return _FileInfo(
            filename=dist.filename,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            requires_python=requires_python,
            yanked=self.yanked.get(dist.filename),
            metadata_sha256=hashlib.sha256(metadata).hexdigest() if served and metadata else None,
        )

    def project_page(self, prefix: str, project: str, want_json: bool) -> bytes | None:
        """The page body, or None when no file of ``project`` is there."""
        infos = [self._info(dist) for dist in self._dists(prefix) if dist.project == project]
        if not infos:
            return None
        if want_json:
            files = [info.json_entry(f"{self.index_url(prefix)}files/") for info in infos]
            page = {"meta": {"api-version": "1.1"}, "name": project, "files": files}
            return json.dumps(page).encode()
        anchors = "\n".join(info.html_anchor("../files/") for info in infos)
        return (
            "<!DOCTYPE html><html><head>"
            '<meta name="pypi:repository-version" content="1.1">'
            f"</head><body>\n{anchors}\n</body></html>\n"
        ).encode()

    def file_body(self, prefix: str, filename: str) -> bytes | None:
        for dist in self._dists(prefix):
            if dist.filename == filename:
                return dist.data
            if self.serve_metadata and filename == dist.filename + ".metadata":
                override = self.metadata_overrides.get(dist.filename)
                return override if override is not None else dist.metadata()
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections
    index: IndexServer
    _request: Request

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        # Logged before answering: a client may act on the answer before this
        # thread runs again.
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._request = Request("GET", self.path, headers)
        self.index.log.append(self._request)
        self._serve()

    def _serve(self) -> int:
        failure = self.index._take_failure(self.path)
        if failure is not None and failure.kind == "500":
            return self._send(500, b"injected failure", "text/plain")
        drop = failure if failure is not None and failure.kind == "drop" else None
        path = unquote(urlsplit(self.path).path)
        # Longest prefix first, so "whl/cu121" is never taken for "whl".
        for prefix in sorted(self.index.indexes, key=len, reverse=True):
            base = "/" + prefix.strip("/") + "/"
            if not path.startswith(base):
                continue
            rest = path[len(base) :]
            if rest.startswith("files/"):
                return self._serve_file(prefix, rest[len("files/") :], drop)
            project = rest.rstrip("/")
            if project and "/" not in project:
                return self._serve_page(prefix, canonicalize_name(project), drop)
        return self._send(404, b"", "text/plain")

    def _serve_page(self, prefix: str, project: str, drop: _Failure | None) -> int:
        want_json = self.index.serve_json and JSON_TYPE in self.headers.get("Accept", "")
        body = self.index.project_page(prefix, project, want_json)
        if body is None:
            return self._send(404, b"", "text/plain")
        headers = {"Vary": "Accept"}
        if self.index.cache_control is not None:
            headers["Cache-Control"] = self.index.cache_control
        if self.index.use_etags:
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers["ETag"] = etag
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, b"", None, headers)
        content_type = JSON_TYPE if want_json else "text/html"
        return self._send(200, body, content_type, headers, drop=drop)

    def _serve_file(self, prefix: str, filename: str, drop: _Failure | None) -> int:
        body = self.index.file_body(prefix, filename)
        if body is None:
            return self._send(404, b"", "text/plain")
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        spec = self.headers.get("Range")
        # RFC 9110: a Range whose If-Range does not match gets the whole file.
        if_range = self.headers.get("If-Range")
        if if_range is not None and (not self.index.use_etags or if_range != etag):
            spec = None
        if spec and self.index.honor_ranges and spec.startswith("bytes=") and "," not in spec:
            first, _, last = spec[len("bytes=") :].partition("-")
            size = len(body)
            if first:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            else:
                start, end = max(0, size - int(last)), size - 1
            if start >= size or start > end:
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            headers = {"Content-Range": f"bytes {start}-{end}/{size}"}
            if self.index.use_etags:
                headers["ETag"] = etag
            part = body[start : end + 1]
            return self._send(206, part, "application/octet-stream", headers, drop=drop)
        headers = {"Accept-Ranges": "bytes"} if self.index.honor_ranges else {}
        if self.index.use_etags:
            headers["ETag"] = etag
        return self._send(200, body, "application/octet-stream", headers, drop=drop)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        *,
        drop: _Failure | None = None,
    ) -> int:
        self._request.status = status
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if drop is not None:
            # Promise the whole body, send part of it, hang up: an interrupted transfer.
            sent = drop.after if drop.after is not None else len(body) // 2
            self.wfile.write(body[:sent])
            self.wfile.flush()
            self.close_connection = True
            return status
        if status != 304:
            self.wfile.write(body)
        return status
