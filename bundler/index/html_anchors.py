"""The ``<a>`` tags of a PEP 503 HTML page, for :func:`bundler.index.simple_api.parse_html_page`."""

from __future__ import annotations

from html.parser import HTMLParser


class AnchorCollector(HTMLParser):
    """Collects ``<a>`` attributes, ``<base href>`` and the repository version meta."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []
        self.base: str | None = None
        self.api_version: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # html.parser already unescapes attribute values (&gt;= → >=).
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.anchors.append(attributes)
        elif tag == "base" and self.base is None:
            self.base = attributes.get("href")
        elif tag == "meta" and attributes.get("name") == "pypi:repository-version":
            self.api_version = attributes.get("content")
