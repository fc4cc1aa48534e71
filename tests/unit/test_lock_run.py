"""run_lock in-process: an injected source or HTTP client, pins of a previous lock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name

from bundler.index.simple_api import Link, make_link
from bundler.lock.run import LockOutcome, run_lock
from bundler.net.client import HttpClient
from bundler.net.transport import Response, Transport
from bundler.request.index_config import IndexConfig
from bundler.request.model import LockRequest
from bundler.request.requirements_file import parse_requirement_arg
from bundler.resolve.source import Chooser
from bundler.target.presets import load_preset
from tests.helpers.index_server import IndexServer
from tests.helpers.wheels import build_wheel, core_metadata

#: Nothing listens on port 9 (discard): an index the lock must never ask.
NO_INDEX = IndexConfig(index_urls=("http://127.0.0.1:9/simple/",))


class MemorySource:
    """A PackageSource of wheels that exist only as metadata; it records every question."""

    def __init__(self, projects: Mapping[str, Mapping[str, Sequence[str]]]) -> None:
        #: name -> version -> Requires-Dist
        self.projects = projects
        self.asked: list[str] = []
        self._metadata: dict[str, bytes] = {}

    def files(self, name: NormalizedName) -> list[Link]:
        self.asked.append(name)
        links = []
        for version, requires in self.projects.get(name, {}).items():
            filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
            link = make_link(
                filename,
                f"https://index.invalid/files/{filename}",
                hashes={"sha256": hashlib.sha256(filename.encode()).hexdigest()},
                size=1000,
            )
            assert link is not None
            self._metadata[filename] = core_metadata(name, version, requires=requires)
            links.append(link)
        return links

    def metadata(self, link: Link) -> bytes | None:
        return self._metadata[link.filename]

    def prepared_metadata(self, link: Link) -> bytes:
        raise AssertionError("no sdist here")

    def unreachable(self, name: NormalizedName) -> Sequence[str]:
        return ()

    def prefetch(self, links: Sequence[Link]) -> None:
        pass

    def hint(self, wants: Iterable[tuple[NormalizedName, str, Chooser]]) -> None:
        pass


def request(*requirements: str, index: IndexConfig = NO_INDEX) -> LockRequest:
    return LockRequest(
        target=load_preset("kaggle-t4"),
        requirements=[parse_requirement_arg(r, "command line") for r in requirements],
        index=index,
    )


def locked(outcome: LockOutcome) -> dict[str, tuple[str, str]]:
    return {p.name: (p.version, p.source) for p in outcome.lock.packages}


APP = {
    "zz-app": {"1.0": ["zz-helper>=1"]},
    "zz-helper": {"1.0": [], "2.0": []},
}


def test_an_injected_source_answers_every_question_and_no_index_is_asked() -> None:
    source = MemorySource(APP)

    outcome = run_lock(request("zz-app"), source=source)

    assert locked(outcome) == {"zz-app": ("1.0", "vendor"), "zz-helper": ("2.0", "vendor")}
    assert {"zz-app", "zz-helper"} <= set(source.asked)
    assert outcome.lock.requirements == ("zz-app",)


def test_a_requirement_whose_marker_is_false_on_the_target_is_not_locked() -> None:
    outcome = run_lock(
        request("zz-app", 'zz-helper<2; sys_platform == "win32"'), source=MemorySource(APP)
    )

    assert locked(outcome) == {"zz-app": ("1.0", "vendor"), "zz-helper": ("2.0", "vendor")}


def test_the_previous_locks_pins_are_kept_unless_upgrading() -> None:
    first = run_lock(request("zz-app"), source=MemorySource({**APP, "zz-helper": {"1.0": []}}))
    again = request("zz-app")

    kept = run_lock(replace(again, previous=first.lock), source=MemorySource(APP))
    upgraded = run_lock(replace(again, previous=first.lock, upgrade=True), source=MemorySource(APP))
    one = run_lock(
        replace(again, previous=first.lock, upgrade_packages=frozenset({"zz-helper"})),
        source=MemorySource(APP),
    )

    assert locked(kept) == {"zz-app": ("1.0", "vendor"), "zz-helper": ("1.0", "vendor")}
    assert locked(upgraded) == {"zz-app": ("1.0", "vendor"), "zz-helper": ("2.0", "vendor")}
    assert locked(one) == locked(upgraded)


class RecordingClient(HttpClient):
    """The real client, remembering which URLs it was asked for."""

    def __init__(self) -> None:
        super().__init__(transport=Transport(backoff=0.01))
        self.urls: list[str] = []

    def get(self, url: str, **options: object) -> Response:
        self.urls.append(url)
        return super().get(url, **options)  # type: ignore[arg-type]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IndexServer]:
    simple = tmp_path / "simple"
    build_wheel(simple, "zz-app", "1.0", requires=["zz-helper>=1"])
    build_wheel(simple, "zz-helper", "2.0")
    with IndexServer({"simple": simple}) as running:
        yield running


def test_an_injected_client_is_the_one_that_fetches(server: IndexServer) -> None:
    client = RecordingClient()

    outcome = run_lock(
        request("zz-app", index=IndexConfig(index_urls=(server.index_url(),))), client=client
    )

    assert locked(outcome) == {"zz-app": ("1.0", "vendor"), "zz-helper": ("2.0", "vendor")}
    pages = {url.rstrip("/").rsplit("/", 1)[-1] for url in client.urls}
    assert {"zz-app", "zz-helper"} <= pages


def test_a_local_find_links_folder_needs_no_index(tmp_path: Path) -> None:
    links = tmp_path / "links"
    build_wheel(links, "zz-app", "1.0", requires=["zz-helper>=1"])
    build_wheel(links, "zz-helper", "2.0")
    build_wheel(links, "zz-helper", "3.0rc1")
    index = IndexConfig(index_urls=(), find_links=(str(links),))
    client = RecordingClient()

    outcome = run_lock(request("zz-app", index=index), client=client)

    assert locked(outcome) == {"zz-app": ("1.0", "vendor"), "zz-helper": ("2.0", "vendor")}
    assert client.urls == []
    helper = next(p for p in outcome.lock.packages if p.name == "zz-helper")
    assert helper.wheel is not None and helper.wheel.url == (links / helper.wheel.filename).as_uri()


def test_a_source_and_a_client_together_are_refused() -> None:
    with pytest.raises(TypeError, match="not both"):
        run_lock(request("zz-app"), source=MemorySource(APP), client=RecordingClient())


def test_the_request_names_the_packages_it_was_asked_for() -> None:
    outcome = run_lock(request("ZZ_App>=1"), source=MemorySource(APP))

    assert outcome.lock.requirements == ("ZZ_App>=1",)
    assert canonicalize_name("ZZ_App") in {p.name for p in outcome.lock.packages}
