"""The wire: one pooled urllib3 manager, credentials, TLS, and the retry loop.

:class:`Transport` is what every request passes through: it turns
``user:password@`` in a URL into Basic auth (remembered per host, as pip
does), maps connection failures and 429/5xx answers to
:class:`~bundler.net.errors.Transient`, and retries those with exponential
backoff. :class:`Response` is what a whole answer becomes, here and in the
response cache. It knows nothing of caching, ``file://`` URLs or downloads to
disk; :class:`bundler.net.client.HttpClient` builds those on top.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from bundler.errors import InputError, NetworkError
from bundler.net.errors import NETWORK_HINT, HttpStatusError, Transient
from bundler.net.urls import redact_url

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

    import urllib3

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Statuses worth another try: the server or a proxy in front of it is busy.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Response:
    """A complete response: ``url`` is the final URL (after redirects), the base
    for relative links; ``headers`` have lower-case names."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    from_cache: bool = False

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ("" when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def raise_for_status(self) -> None:
        """Raise :class:`HttpStatusError` for a 4xx/5xx status."""
        if self.status >= 400:
            raise HttpStatusError(self.url, self.status)


class Transport:
    """A thread-safe pool of HTTP(S) connections with kbundle's retry rules.

    Connection errors and 429/5xx answers are retried ``retries`` times with
    exponential backoff starting at ``backoff`` seconds (see :meth:`retrying`).
    The CA bundle comes from ``PIP_CERT``, ``SSL_CERT_FILE`` or
    ``REQUESTS_CA_BUNDLE``; a named bundle that does not exist is an InputError.
    """

    def __init__(
        self,
        *,
        environ: Mapping[str, str] = os.environ,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_connections: int = 16,
    ) -> None:
        self._retries = retries
        self._backoff = backoff
        # Credentials seen in any URL, per host: relative file links on a
        # credentialed index (or a redirect) then authenticate too, as pip does.
        self._credentials: dict[str, str] = {}
        self._ca = _ca_bundle(environ)
        self._timeout = timeout
        self._max_connections = max_connections
        # Made on the first request: a run served from the cache (a warm
        # lock) then never imports urllib3 nor reads the CA bundle.
        self._pool_manager: urllib3.PoolManager | None = None
        self._pool_lock = threading.Lock()

    @property
    def _pool(self) -> urllib3.PoolManager:
        with self._pool_lock:
            if self._pool_manager is None:
                import urllib3

                timeout = self._timeout
                self._pool_manager = urllib3.PoolManager(
                    num_pools=32,
                    maxsize=self._max_connections,
                    timeout=urllib3.Timeout(connect=min(timeout, 15.0), read=timeout),
                    # Only redirects are left to urllib3; every other retry is ours
                    # so a failure part-way through a body is retried the same way.
                    retries=urllib3.Retry(
                        total=None, connect=0, read=0, status=0, other=0, redirect=10
                    ),
                    ssl_context=tls_context(self._ca),
                )
            return self._pool_manager

    def open(
        self, url: str, headers: Mapping[str, str], *, preload: bool
    ) -> urllib3.BaseHTTPResponse:
        """One GET of ``url``; :class:`Transient` for connection trouble or 429/5xx.

        With ``preload=False`` the body is left unread: the caller reads it
        (through :class:`BodyReader`) and must close and release the response.
        """
        parts = urlsplit(url)
        request_headers = dict(headers)
        if "@" in parts.netloc:
            userinfo, _, host = parts.netloc.rpartition("@")
            user, _, password = userinfo.partition(":")
            pair = f"{unquote(user)}:{unquote(password)}"
            self._credentials[host] = base64.b64encode(pair.encode()).decode()
            url = urlunsplit(parts._replace(netloc=host))
        if (token := self._credentials.get(urlsplit(url).netloc)) is not None:
            request_headers.setdefault("Authorization", f"Basic {token}")
        log.debug("GET %s %s", redact_url(url), headers.get("Range", ""))
        from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, SSLError
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            raw = self._pool.request(
                "GET", url, headers=request_headers, preload_content=preload, decode_content=True
            )
        except Urllib3Error as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, SSLError):
                raise NetworkError(
                    f"TLS failure talking to {redact_url(url)}: {reason}",
                    hint="Set PIP_CERT or SSL_CERT_FILE to the CA bundle your network needs.",
                ) from exc
            connecting = isinstance(reason, (NewConnectionError, ConnectTimeoutError))
            message = _connection_problem(reason) if connecting else str(reason)
            raise Transient(message, unreachable=connecting) from exc
        except OSError as exc:
            raise Transient(str(exc)) from exc
        if raw.status in RETRY_STATUSES:
            raw.close()
            raw.release_conn()
            raise Transient(f"HTTP {raw.status}")
        return raw

    def retrying(
        self,
        url: str,
        attempt: Callable[[], _T],
        *,
        progressed: Callable[[], bool] | None = None,
    ) -> _T:
        """``attempt()`` until it does not raise Transient: ``retries`` more
        times with exponential backoff. When ``progressed()`` says the failed
        attempt got somewhere, the count and the delay start over. Out of
        retries, the last Transient becomes a :class:`NetworkError`."""
        delay = self._backoff
        failures = attempts = 0
        while True:
            attempts += 1
            try:
                return attempt()
            except Transient as exc:
                if progressed is not None and progressed():
                    failures, delay = 0, self._backoff
                if failures == self._retries:
                    if exc.unreachable:
                        host = urlsplit(url).netloc.rpartition("@")[2]
                        raise NetworkError(
                            f"{host} is unreachable: {exc} (fetching {redact_url(url)}, "
                            f"tried {attempts} times).",
                            hint=NETWORK_HINT,
                        ) from exc
                    raise NetworkError(
                        f"Could not fetch {redact_url(url)}: {exc} (tried {attempts} times).",
                        hint=NETWORK_HINT,
                    ) from exc
                failures += 1
                log.info("retrying %s in %.1fs: %s", redact_url(url), delay, exc)
                time.sleep(delay)
                delay *= 2


def to_response(url: str, raw: urllib3.BaseHTTPResponse, body: bytes) -> Response:
    """The :class:`Response` for ``raw`` (asked for as ``url``) holding ``body``."""
    # urllib3 reports the final URL without credentials: keep the request
    # URL (credentials and all) as the base for relative links unless a
    # redirect actually happened.
    final = url
    if raw.retries is not None and raw.retries.history and raw.url:
        final = raw.url
    headers = {name.lower(): value for name, value in raw.headers.items()}
    return Response(final, raw.status, headers, body)


class BodyReader:
    """A file-like ``read`` over a streaming urllib3 body that turns
    connection failures into :class:`Transient` (so they are retried)."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            if size < 0:
                return self._raw.read(decode_content=False)
            return self._raw.read(size, decode_content=False)
        except (Urllib3Error, OSError) as exc:
            raise Transient(f"connection lost while reading: {exc}") from exc


@functools.cache
def tls_context(ca: str | None) -> ssl.SSLContext:
    """The one TLS context for the CA bundle (file or directory) ``ca``, or the
    system's trust store when None.

    Without a context of its own, urllib3 builds one for every new connection
    and loads the whole trust store into it again, about 20 ms of CPU each time:
    a cold lock opens dozens. A context is safe to share between threads.
    """
    import ssl

    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context()
    if ca is None:
        context.load_default_certs()
    elif Path(ca).is_dir():
        context.load_verify_locations(capath=ca)
    else:
        try:
            context.load_verify_locations(cafile=ca)
        except ssl.SSLError as exc:
            raise InputError(
                f"{ca} is not a CA bundle: {exc}",
                hint="Point PIP_CERT or SSL_CERT_FILE at a PEM file of CA certificates.",
            ) from exc
    return context


def _ca_bundle(environ: Mapping[str, str]) -> str | None:
    for variable in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = environ.get(variable)
        if value:
            if not Path(value).exists():
                raise InputError(f"{variable}={value} does not exist", source=variable)
            return value
    return None


def _connection_problem(reason: BaseException) -> str:
    """Why a host could not be reached, in words (DNS, refused, timeout)."""
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    text = str(reason)
    if isinstance(reason, NameResolutionError):
        return "its host name does not resolve (DNS)"
    if "refused" in text.lower():
        return "the connection was refused"
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: test it first.
    if isinstance(reason, NewConnectionError):
        return text
    if isinstance(reason, (ConnectTimeoutError, TimeoutError)):
        return "the connection timed out"
    return text
