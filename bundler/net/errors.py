"""The failures the network layer reports, and the one it keeps to itself.

:class:`HttpStatusError`, :class:`RangeNotSupported` and :class:`HashMismatch`
are :class:`~bundler.errors.NetworkError` subclasses that callers catch to
choose another path (a 404 means "not on this index", an ignored range means
"download it whole"). :class:`Transient` marks a failure worth another try;
it is raised and caught inside :mod:`bundler.net` only.
"""

from __future__ import annotations

from bundler.errors import NetworkError
from bundler.net.urls import redact_url

OFFLINE_HINT = "Run once without --offline to fill the cache."
NETWORK_HINT = "Check the network connection, or use --offline to work from the cache."


class HttpStatusError(NetworkError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(f"{redact_url(url)} answered HTTP {status}.")
        self.url = url
        self.status = status


class RangeNotSupported(NetworkError):
    """The server ignored a ``Range`` header; the caller should fetch the whole file."""


class HashMismatch(NetworkError):
    """Downloaded bytes do not have the hash the index promised."""

    def __init__(self, url: str, algorithm: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{redact_url(url)} has {algorithm} {actual}, but the index lists {expected}.",
            hint="The file changed on the server or was corrupted in transit; try again.",
        )
        self.url = url
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


class Transient(Exception):
    """A failure worth retrying (connection trouble or a 5xx); never leaves :mod:`bundler.net`.

    ``unreachable`` says the server was never reached (DNS, refused, timed
    out), as opposed to a server that answered badly.
    """

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable
