"""Fixtures of the index-layer tests (a pytest plugin the root conftest loads).

``local_index`` puts kbundle's cache in the test's own folder (tests look
inside it) and serves an empty ``dists`` folder as a loopback index that the
test fills with wheels and sdists. ``app_index`` serves the small app the
vendor tests ship (:func:`~tests.helpers.wheels.build_app_wheels`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index_server import IndexServer
from tests.helpers.wheels import build_app_wheels


@pytest.fixture
def cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """kbundle's cache under ``tmp_path/cache`` (the autouse fixture already drops PIP_*)."""
    monkeypatch.setenv("KBUNDLE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def dists(tmp_path: Path) -> Path:
    """The folder the ``server`` fixture serves as ``/simple`` (empty until filled)."""
    return tmp_path / "dists"


@pytest.fixture
def server(dists: Path) -> Iterator[IndexServer]:
    """A loopback index over ``dists``."""
    dists.mkdir(exist_ok=True)
    with IndexServer({"simple": dists}) as running:
        yield running


@pytest.fixture
def app_index(tmp_path: Path) -> Iterator[IndexServer]:
    """A loopback index of ``app`` (needs ``helper`` and ``numpy``), ``helper`` and ``numpy``."""
    simple = tmp_path / "index" / "simple"
    build_app_wheels(simple)
    with IndexServer({"simple": simple}) as running:
        yield running
