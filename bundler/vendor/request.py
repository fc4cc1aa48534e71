"""What one ``kbundle vendor`` run is asked to do: :class:`VendorRequest`.

A plain value, built by the CLI (or an API caller) from options and
configuration and read by every vendor step: :mod:`.fetch` (which files,
what may be built), :mod:`.run` (where the lib goes) and :mod:`.wheelhouse`.
Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bundler.index.simple_api import Link
from bundler.lock.model import Lock
from bundler.request.index_config import IndexConfig
from bundler.target.model import Target

#: Given a file about to be downloaded, a callback for its (bytes so far,
#: total) — or None for no progress display of that file.
ProgressFactory = Callable[[Link], "Callable[[int, int | None], None] | None"]


@dataclass(frozen=True)
class VendorRequest:
    """What to vendor where; built by the CLI from options and configuration."""

    lock: Lock
    target: Target
    lib: Path
    index: IndexConfig
    build: frozenset[str] = frozenset()
    build_python: str | None = None
    cpu_only: bool = False
    offline: bool = False
    jobs: int | None = None
    #: Write the offline switches of the locked libraries into kbundle_boot.
    offline_env: bool = True
    #: Replace ``lib`` even when it is a non-empty folder kbundle did not write.
    force: bool = False
