"""The package source that warms the finder in the background from the resolver's hints."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, cast

import pytest

import bundler.build.builder as builder
from bundler.errors import NetworkError
from bundler.index.simple_api import Link, make_link
from bundler.lock.prefetch import PrefetchingSource

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from packaging.utils import NormalizedName

    from bundler.index.finder import Finder


def link(filename: str, sha256: str | None = None) -> Link:
    made = make_link(
        filename,
        "https://files.test/" + filename,
        hashes={"sha256": sha256} if sha256 else None,
    )
    assert made is not None
    return made


class FakeFinder:
    """The part of a Finder the source uses, recording every call (from any thread)."""

    def __init__(self, files: dict[str, list[Link]], *, broken: frozenset[str] = frozenset()):
        self._files = files
        self._broken = broken
        self.calls: list[tuple[str, str]] = []
        self.unreachable: dict[str, list[str]] = {"pinned": ["host.test is unreachable"]}
        self._changed = threading.Condition()

    def _record(self, kind: str, what: str) -> None:
        with self._changed:
            self.calls.append((kind, what))
            self._changed.notify_all()
        if what in self._broken:
            raise NetworkError(f"{what} is broken")

    def files(self, name: str) -> list[Link]:
        self._record("files", name)
        return self._files.get(name, [])

    def metadata(self, link: Link) -> bytes | None:
        self._record("metadata", link.filename)
        return b"Metadata-Version: 2.1\nName: x\nVersion: 1\n"

    def download(self, link: Link, dest_dir: Path) -> Path:
        self._record("download", link.filename)
        dest_dir.mkdir(parents=True, exist_ok=True)
        (dest_dir / link.filename).write_bytes(b"sdist bytes")
        return dest_dir / link.filename

    def wait_for(self, count: int) -> list[tuple[str, str]]:
        """The calls, once there are ``count`` of them (a background thread makes them)."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.calls) >= count, timeout=10)
            return sorted(self.calls)


def source_over(finder: FakeFinder) -> PrefetchingSource:
    return PrefetchingSource(cast("Finder", finder), workers=2)


def name(text: str) -> NormalizedName:
    return cast("NormalizedName", text)


def newest(links: Sequence[Link]) -> Link | None:
    return max(links, key=lambda each: each.version) if links else None


def test_a_hint_fetches_the_page_and_the_chosen_files_metadata_once() -> None:
    demo = [link("demo-1.0-py3-none-any.whl"), link("demo-2.0-py3-none-any.whl")]
    finder = FakeFinder({"demo": demo})
    seen: list[Sequence[Link]] = []

    def choose(links: Sequence[Link]) -> Link | None:
        seen.append(links)
        return newest(links)

    with source_over(finder) as source:
        source.hint([(name("demo"), "", choose), (name("demo"), "", choose)])
        source.hint([(name("demo"), "", choose), (name("unknown"), "", newest)])
        calls = finder.wait_for(3)
    assert calls == [
        ("files", "demo"),
        ("files", "unknown"),
        ("metadata", "demo-2.0-py3-none-any.whl"),
    ]
    assert seen == [demo]  # one requirement is warmed once, however often it is hinted


def test_another_specifier_on_a_hinted_name_warms_its_own_file() -> None:
    demo = [link("demo-1.0-py3-none-any.whl"), link("demo-2.0-py3-none-any.whl")]
    finder = FakeFinder({"demo": demo})

    def oldest(links: Sequence[Link]) -> Link | None:
        return min(links, key=lambda each: each.version)

    with source_over(finder) as source:
        source.hint([(name("demo"), "", newest)])
        calls = finder.wait_for(2)
        source.hint([(name("demo"), "==1.0", oldest)])
        calls = finder.wait_for(4)
    assert ("metadata", "demo-1.0-py3-none-any.whl") in calls
    assert ("metadata", "demo-2.0-py3-none-any.whl") in calls


def test_prefetch_warms_each_file_once() -> None:
    a, b = link("a-1.0-py3-none-any.whl", "1" * 64), link("b-1.0-py3-none-any.whl")
    mirror_of_a = replace(a, url="https://mirror.test/" + a.filename)
    finder = FakeFinder({})
    with source_over(finder) as source:
        source.prefetch([a, b, a, mirror_of_a])  # the same sha256 is the same file
        source.prefetch([b])
        calls = finder.wait_for(2)
    assert calls == [("metadata", a.filename), ("metadata", b.filename)]


def test_background_failures_are_left_for_the_resolver_to_meet() -> None:
    broken = link("broken-1.0-py3-none-any.whl")
    finder = FakeFinder({"gone": []}, broken=frozenset({"gone", broken.filename}))
    with source_over(finder) as source:
        source.hint([(name("gone"), "", newest)])
        source.prefetch([broken])
        assert finder.wait_for(2) == [("files", "gone"), ("metadata", broken.filename)]
        # Nothing was raised in the background; asked directly, it fails.
        with pytest.raises(NetworkError, match="broken"):
            source.files(name("gone"))


def test_questions_are_answered_by_the_finder() -> None:
    demo = [link("demo-1.0.tar.gz", "2" * 64)]
    finder = FakeFinder({"demo": demo})
    with source_over(finder) as source:
        assert source.files(name("demo")) == demo
        assert source.metadata(demo[0]) is not None
        assert source.unreachable(name("pinned")) == ["host.test is unreachable"]
        assert source.unreachable(name("demo")) == ()
    assert finder.calls == [("files", "demo"), ("metadata", "demo-1.0.tar.gz")]


def test_prepared_metadata_builds_a_downloaded_sdist(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[tuple[bytes, str]] = []

    def prepare(sdist: Path, key: str) -> bytes:
        built.append((sdist.read_bytes(), key))
        return b"Name: demo\n"

    monkeypatch.setattr(builder, "prepare_metadata", prepare)
    hashed, plain = link("demo-1.0.tar.gz", "3" * 64), link("demo-0.9.tar.gz")
    finder = FakeFinder({})
    with source_over(finder) as source:
        assert source.prepared_metadata(hashed) == b"Name: demo\n"
        assert source.prepared_metadata(plain) == b"Name: demo\n"
    # Keyed by the sdist's sha256 when the index gives one, else by its URL.
    assert built == [(b"sdist bytes", "3" * 64), (b"sdist bytes", plain.url)]
    assert [kind for kind, _ in finder.calls] == ["download", "download"]
