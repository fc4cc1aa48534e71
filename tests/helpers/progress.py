"""A progress callback for tests of downloads."""

from __future__ import annotations

import threading


class Recorder:
    """A progress callback that remembers every call (from any thread)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []
        self._lock = threading.Lock()

    def __call__(self, delta: int, total: int | None) -> None:
        with self._lock:
            self.calls.append((delta, total))

    @property
    def done(self) -> int:
        return sum(delta for delta, _ in self.calls)
