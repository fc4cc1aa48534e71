"""Download progress bars on a terminal; nothing at all otherwise."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bundler.index.simple_api import Link

if TYPE_CHECKING:
    from rich.progress import TaskID

Callback = Callable[[int, "int | None"], None]


@contextmanager
def download_progress(enabled: bool) -> Iterator[Callable[[Link], Callback | None] | None]:
    """A progress factory for :func:`bundler.vendor.run.run_vendor`, or None.

    One bar per file and a total bar, with bytes/s; only when ``enabled``
    and stderr is a terminal (logs and CI output stay clean).
    """
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (
        TextColumn("{task.description}", justify="left"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    lock = threading.Lock()
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        total = progress.add_task("total", total=0)

        def factory(link: Link) -> Callback:
            task: TaskID = progress.add_task(link.filename, total=link.size)
            with lock:
                progress.update(total, total=(progress.tasks[total].total or 0) + (link.size or 0))

            def advance(delta: int, size: int | None) -> None:
                if size is not None:
                    progress.update(task, total=size)
                progress.advance(task, delta)
                progress.advance(total, delta)

            return advance

        yield factory
