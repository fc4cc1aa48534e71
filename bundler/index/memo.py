"""Memoisation shared by threads, for the index layer's per-run answers.

The resolver and the prefetch threads ask for the same project pages and
metadata concurrently; :class:`Memo` makes the first caller of a key compute
it and every other caller wait for that one answer.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Generic, TypeVar

from bundler.errors import KbundleError

if TYPE_CHECKING:
    from collections.abc import Callable

_K = TypeVar("_K")
_V = TypeVar("_V")


class Memo(Generic[_K, _V]):
    """Thread-safe memoisation where concurrent callers of one key share one
    computation. A KbundleError is remembered like a value (so a failed fetch
    is not retried by every caller); any other exception is not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[_K, Future[_V]] = {}

    def get(self, key: _K, compute: Callable[[], _V]) -> _V:
        """The value of ``key``, computed by ``compute()`` once."""
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
