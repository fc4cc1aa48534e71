"""Parsing PEP 691 JSON and PEP 503 HTML project pages into Links."""

from __future__ import annotations

import json

import pytest
from packaging.tags import Tag
from packaging.version import Version

from bundler.errors import NetworkError
from bundler.index.simple_api import Link, parse_html_page, parse_json_page, parse_page

PAGE = "https://index.example/simple/demo/"
SHA = "a" * 64


def json_page(*files: object, api_version: str = "1.1") -> bytes:
    return json.dumps(
        {"meta": {"api-version": api_version}, "name": "demo", "files": files}
    ).encode()


def test_json_page_fields() -> None:
    body = json_page(
        {
            "filename": "demo-1.0-py3-none-any.whl",
            "url": "../../files/demo-1.0-py3-none-any.whl#frag",
            "hashes": {"sha256": SHA.upper(), "blake2b": "b" * 128, "unknown-algo": "x"},
            "requires-python": ">=3.8",
            "core-metadata": {"sha256": "c" * 64},
            "dist-info-metadata": False,  # core-metadata wins (PEP 714)
            "yanked": "broken build",
            "size": 1234,
            "upload-time": "2024-01-02T03:04:05.123456Z",
        },
        {
            "filename": "demo-0.9.tar.gz",
            "url": "https://files.example/demo-0.9.tar.gz",
            "hashes": {},
            "dist-info-metadata": True,
            "yanked": True,
        },
        {"filename": "demo-0.8.zip", "url": "demo-0.8.zip", "yanked": False},
    )
    wheel, sdist, zipped = parse_json_page(body, PAGE)
    assert wheel.url == "https://index.example/files/demo-1.0-py3-none-any.whl"
    assert wheel.hashes == {"sha256": SHA, "blake2b": "b" * 128}
    assert wheel.sha256 == SHA
    assert wheel.requires_python == ">=3.8"
    assert wheel.metadata_hashes == {"sha256": "c" * 64}
    assert wheel.yanked == "broken build"
    assert wheel.is_yanked
    assert (wheel.size, wheel.upload_time) == (1234, "2024-01-02T03:04:05.123456Z")
    assert (wheel.project, wheel.version) == ("demo", Version("1.0"))
    assert wheel.tags == frozenset({Tag("py3", "none", "any")})
    assert wheel.is_wheel
    assert not wheel.is_sdist
    assert sdist.is_sdist
    assert sdist.tags == frozenset()
    assert sdist.metadata_hashes == {}  # advertised, no hash given
    assert sdist.yanked == ""  # yanked without a reason
    assert sdist.sha256 is None
    assert zipped.url == "https://index.example/simple/demo/demo-0.8.zip"
    assert zipped.yanked is None
    assert zipped.metadata_hashes is None
    assert zipped.size is None


def test_json_skips_unusable_entries() -> None:
    body = json_page(
        {"filename": "demo-1.0.win32-py2.7.exe", "url": "a.exe"},
        {"filename": "demo-not.a.version.tar.gz", "url": "b"},
        {"filename": "demo-1.0-bad.whl", "url": "c"},
        {"filename": "demo-1.5-py36+-none-any.whl", "url": "d"},  # seen on a real index
        {"url": "no-filename"},
        {"filename": "demo-2.0.tar.gz", "url": "demo-2.0.tar.gz", "size": True},
        "not an object",
    )
    (link,) = parse_json_page(body, PAGE)
    assert link.filename == "demo-2.0.tar.gz"
    assert link.size is None  # a bool is not a size


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"files": {}}', b'{"meta": 1, "files": []}'])
def test_malformed_json_page_is_a_network_error(body: bytes) -> None:
    with pytest.raises(NetworkError, match="not a valid Simple API JSON page"):
        parse_json_page(body, PAGE)


def test_unknown_major_api_version_is_refused() -> None:
    assert parse_json_page(json_page(api_version="1.4"), PAGE) == []
    with pytest.raises(NetworkError, match=r"version 2\.0"):
        parse_json_page(json_page(api_version="2.0"), PAGE)
    html = b'<meta name="pypi:repository-version" content="2.1"><a href="demo-1.0.tar.gz">x</a>'
    with pytest.raises(NetworkError):
        parse_html_page(html, PAGE)


HTML = b"""<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.0"></head><body>
<a href="../../files/demo-1.0-py3-none-any.whl#sha256=AAAA"
   data-requires-python="&gt;=3.8,&lt;4,!=3.9.*" data-core-metadata="sha256=cccc">w</a>
<a href="https://cdn.example/demo-0.9.tar.gz#md5=1234" data-yanked="bad &amp; broken"
   data-dist-info-metadata="true">s</a>
<a href="demo-0.8.tar.gz" data-yanked>bare</a>
<a href="demo-0.7.tar.gz" data-yanked="" data-core-metadata="false">empty</a>
<a href="/files/demo%2B-0.6.tar.gz">quoted</a>
<a href="#top">anchor</a>
<a name="nothing">no href</a>
<a href="demo-1.0.win32.exe">installer</a>
</body></html>
"""


def test_html_page_attributes() -> None:
    links = parse_html_page(HTML, PAGE)
    assert [link.filename for link in links] == [
        "demo-1.0-py3-none-any.whl",
        "demo-0.9.tar.gz",
        "demo-0.8.tar.gz",
        "demo-0.7.tar.gz",
        "demo+-0.6.tar.gz",
    ]
    wheel, remote, bare, empty, quoted = links
    assert wheel.url == "https://index.example/files/demo-1.0-py3-none-any.whl"
    assert wheel.hashes == {"sha256": "aaaa"}
    assert wheel.requires_python == ">=3.8,<4,!=3.9.*"  # entities unescaped
    assert wheel.metadata_hashes == {"sha256": "cccc"}
    assert wheel.yanked is None
    assert remote.hashes == {"md5": "1234"}
    assert remote.yanked == "bad & broken"
    assert remote.metadata_hashes == {}  # PEP 714's fallback attribute
    assert bare.yanked == ""
    assert empty.yanked == ""
    assert empty.metadata_hashes is None
    assert quoted.url == "https://index.example/files/demo%2B-0.6.tar.gz"


def test_html_base_href_is_honoured() -> None:
    body = b'<html><head><base href="https://mirror.example/pkgs/"></head>'
    body += b'<body><a href="demo-1.0.tar.gz">demo</a></body></html>'
    (link,) = parse_html_page(body, PAGE)
    assert link.url == "https://mirror.example/pkgs/demo-1.0.tar.gz"


def test_parse_page_dispatches_on_content_type() -> None:
    html = b'<a href="demo-1.0.tar.gz">demo</a>'
    assert parse_page(html, PAGE, "text/html")[0].filename == "demo-1.0.tar.gz"
    assert parse_page(html, PAGE, "application/vnd.pypi.simple.v1+html")
    body = json_page({"filename": "demo-1.0.tar.gz", "url": "demo-1.0.tar.gz"})
    assert parse_page(body, PAGE, "application/vnd.pypi.simple.v1+json")
    with pytest.raises(NetworkError, match="unexpected content type"):
        parse_page(body, PAGE, "application/octet-stream")


def test_links_are_hashable_values() -> None:
    body = json_page({"filename": "demo-1.0.tar.gz", "url": "x", "hashes": {"sha256": SHA}})
    first = parse_json_page(body, PAGE)[0]
    second = parse_json_page(body, PAGE)[0]
    assert first == second
    assert len({first, second}) == 1
    assert isinstance(first, Link)
