"""An HTTP client for the network-layer tests: its own cache, quick retries."""

from __future__ import annotations

from pathlib import Path

from bundler.net.client import HttpClient
from bundler.net.transport import Transport


def make_client(tmp_path: Path, *, offline: bool = False, refresh: bool = False) -> HttpClient:
    """A client caching under ``tmp_path/cache`` that retries after 10 ms, not 0.5 s."""
    return HttpClient(
        cache_root=tmp_path / "cache",
        offline=offline,
        refresh=refresh,
        transport=Transport(backoff=0.01),
    )
