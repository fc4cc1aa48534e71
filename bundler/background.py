"""Daemon worker threads for speculative work the process must not wait for.

The prefetcher warms pages and metadata the resolver will *probably* ask for,
and an sdist's range reads fetch chunks ahead of the tar reader. When the
command is done, whatever of that is still in flight is wasted, yet a
:class:`concurrent.futures.ThreadPoolExecutor` joins its threads at
interpreter exit: a cold data-science lock sat 0.2 s after its last line
waiting for metadata nobody would read. :class:`DaemonPool` is the same
``submit`` / ``shutdown`` with daemon threads, which exit dies with.

Killing such work mid-way is safe by construction: every cache write is atomic
(:func:`bundler.cache.atomic_writer`) and a partial download is a resumable
``.part`` file.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

_T = TypeVar("_T")
_Job = tuple["Future[object]", Callable[[], object]]


class DaemonPool:
    """Up to ``workers`` daemon threads, started as work arrives.

    :meth:`submit` returns a :class:`~concurrent.futures.Future`; after
    :meth:`shutdown` queued jobs are cancelled and running ones left to finish
    (or to die with the process).
    """

    def __init__(self, workers: int, name: str) -> None:
        self._workers = workers
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        # Released by a worker each time it is free: a new job wakes it rather
        # than starting another thread (as ThreadPoolExecutor does).
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., _T], /, *args: object) -> Future[_T]:
        """Run ``fn(*args)`` on a worker; its result or exception goes to the future."""
        future: Future[_T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._name}: submit after shutdown")
            self._jobs.put((future, lambda: fn(*args)))  # type: ignore[arg-type]
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def shutdown(self) -> None:
        """Cancel what has not started; idle workers exit, busy ones after their job."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
            for _ in self._threads:
                self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, call = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as exc:  # handed to the future's owner
                    future.set_exception(exc)
            self._idle.release()
