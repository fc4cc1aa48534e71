"""Which files a project offers: index priority, pins, CUDA templates, find-links."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bundler.errors import InputError, NetworkError
from bundler.index.finder import Finder
from bundler.index.lazy_wheel import fetch_wheel_metadata
from bundler.net.client import HttpClient
from bundler.request.index_config import PYPI_SIMPLE_URL, IndexConfig
from tests.helpers.finder import make_finder, metadata_of, only, static_index
from tests.helpers.index_server import IndexServer
from tests.helpers.wheels import build_sdist, build_wheel

if TYPE_CHECKING:
    pass


pytestmark = pytest.mark.usefixtures("cache_in_tmp")


def test_cuda_template_selects_one_of_two_loopback_indexes(tmp_path: Path) -> None:
    for cuda in ("cu121", "cu124"):
        build_wheel(tmp_path / cuda, "torch", f"2.3.0+{cuda}", tag="cp311-cp311-linux_x86_64")
    with IndexServer({"whl/cu121": tmp_path / "cu121", "whl/cu124": tmp_path / "cu124"}) as srv:
        template = srv.url + "whl/{cuda}"
        finder = make_finder(template, cuda="cu124")
        (link,) = finder.files("torch")
        assert str(link.version) == "2.3.0+cu124"
        assert link.index_url == srv.url + "whl/cu124/"
        assert b"Version: 2.3.0+cu124" in metadata_of(finder, link)
        with pytest.raises(InputError, match="needs a CUDA tag"):
            make_finder(template)


def test_cuda_index_pin_falls_back_when_unreachable_or_unknown(tmp_path: Path) -> None:
    """--cuda-index: no reachable variant index has it → the ordinary index (an sdist)."""
    build_sdist(tmp_path / "simple", "llama-cpp-python", "0.3.16")
    build_wheel(tmp_path / "cu121", "other", "1.0")
    with IndexServer({"simple": tmp_path / "simple", "whl/cu121": tmp_path / "cu121"}) as srv:
        dead = "http://127.0.0.1:9/whl/{cuda}"  # the discard port: refused at once
        for template in (dead, srv.url + "whl/{cuda}"):
            pins = {"llama-cpp-python": template}
            finder = make_finder(
                srv.index_url(), pins=pins, cuda=("cu121", "cu120"), pin_fallback=frozenset(pins)
            )
            (link,) = finder.files("llama-cpp-python")
            assert link.filename == "llama_cpp_python-0.3.16.tar.gz"
            strict = make_finder(srv.index_url(), pins=pins, cuda=("cu121",))
            if template == dead:
                with pytest.raises(NetworkError):
                    strict.files("llama-cpp-python")
            else:
                assert strict.files("llama-cpp-python") == []  # a plain pin never falls back


def test_first_index_that_knows_a_name_wins(tmp_path: Path) -> None:
    build_wheel(tmp_path / "first", "alpha", "1.0")
    build_wheel(tmp_path / "second", "alpha", "2.0")
    build_wheel(tmp_path / "second", "beta", "1.0")
    build_wheel(tmp_path / "links", "alpha", "3.0")
    build_wheel(tmp_path / "links", "beta", "3.0")
    with IndexServer({"first": tmp_path / "first", "second": tmp_path / "second"}) as srv:
        first, second = srv.index_url("first"), srv.index_url("second")
        finder = make_finder(first, second)
        assert [str(link.version) for link in finder.files("Alpha")] == ["1.0"]  # no merging
        assert [link.index_url for link in finder.files("beta")] == [second]
        assert finder.files("gamma") == []
        linked = make_finder(first, second, find_links=(str(tmp_path / "links"),))
        alpha = linked.files("alpha")
        assert [(str(link.version), link.index_url) for link in alpha] == [
            ("1.0", first),
            ("3.0", None),
        ]
        assert alpha[1].url.startswith("file://")
        # A pinned package looks only at its own index: no find-links either.
        pinned = make_finder(first, find_links=(str(tmp_path / "links"),), pins={"ALPHA": second})
        assert [str(link.version) for link in pinned.files("alpha")] == ["2.0"]
        assert [str(link.version) for link in pinned.files("beta")] == ["3.0"]


def test_memoised_per_finder(server: IndexServer, dists: Path) -> None:
    build_wheel(dists, "demo", "1.0")
    finder = make_finder(server.index_url())
    assert finder.files("demo") == finder.files("DEMO")
    assert server.count("/simple/demo/") == 1


def test_file_index_and_find_links(tmp_path: Path) -> None:
    build_wheel(tmp_path / "d", "demo", "1.0", requires=["six"])
    build_sdist(tmp_path / "d", "demo", "0.9", metadata_version="2.2")
    index = static_index(tmp_path / "mirror", tmp_path / "d")
    finder = make_finder(index, offline=True)  # local files are not network
    links = finder.files("demo")
    assert sorted(link.filename for link in links) == [
        "demo-0.9.tar.gz",
        "demo-1.0-py3-none-any.whl",
    ]
    wheel = only(links)
    assert wheel.url == (tmp_path / "mirror" / "files" / wheel.filename).as_uri()
    assert wheel.sha256 is not None
    assert b"Requires-Dist: six" in metadata_of(finder, wheel)
    assert b"Version: 0.9" in metadata_of(finder, only(links, ".tar.gz"))
    downloaded = finder.download(wheel, tmp_path / "out")
    assert downloaded.read_bytes() == (tmp_path / "d" / wheel.filename).read_bytes()
    # find-links: an HTML file and a file:// directory URL
    html = tmp_path / "links.html"
    html.write_text('<a href="d/demo-1.0-py3-none-any.whl">w</a>')
    finder = make_finder(index, find_links=(str(html), (tmp_path / "d").as_uri()))
    assert len(finder.files("demo")) == 2 + 1 + 2
    with pytest.raises(InputError, match="does not exist"):
        make_finder(index, find_links=(str(tmp_path / "nowhere"),)).files("demo")


def test_find_links_files_are_hashed_once_until_they_change(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "d", "demo", "1.0")
    (tmp_path / "empty").mkdir()
    index = static_index(tmp_path / "mirror", tmp_path / "empty")
    first = only(make_finder(index, find_links=(str(tmp_path / "d"),)).files("demo"))
    assert first.sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest()
    # The digest is remembered by path, size and mtime: a second lock does not
    # read the file (a planted memo proves it is what answers)...
    [memo] = [
        p
        for p in (Path(os.environ["KBUNDLE_CACHE_DIR"]) / "local-sha256").rglob("*")
        if p.is_file()
    ]
    memo.write_text("ab" * 32)
    again = only(make_finder(index, find_links=(str(tmp_path / "d"),)).files("demo"))
    assert again.sha256 == "ab" * 32
    # ...and a rewritten file is hashed again.
    build_wheel(tmp_path / "d", "demo", "1.0", files={"demo/__init__.py": b"NEW = 1\n"})
    changed = only(make_finder(index, find_links=(str(tmp_path / "d"),)).files("demo"))
    assert changed.sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest() != first.sha256


@pytest.mark.network
def test_real_pypi_pages_and_range_metadata(tmp_path: Path) -> None:
    client = HttpClient(cache_root=tmp_path)
    finder = Finder(IndexConfig((PYPI_SIMPLE_URL,)), client, cache_root=tmp_path)
    llama = finder.files("llama-cpp-python")
    assert any(link.is_sdist and link.sha256 for link in llama)
    name = "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    (wheel,) = [link for link in finder.files("numpy") if link.filename == name]
    metadata = fetch_wheel_metadata(client, wheel.url, wheel.filename)
    assert b"Name: numpy\n" in metadata
    assert b"Version: 2.2.6\n" in metadata
