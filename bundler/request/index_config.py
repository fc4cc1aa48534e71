"""Where distributions may come from: the index settings of a request.

:class:`IndexConfig` is what the request stage hands the index stage
(:class:`bundler.index.finder.Finder`): index URLs in priority order,
find-links locations, per-project pins and the CUDA tags that fill a
``{cuda}`` placeholder. It holds settings only; how the indexes are asked
is :mod:`bundler.index.file_finder`'s business. The default index when the
user names none is pip's (:func:`bundler.request.pip_config.default_index_url`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from bundler.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from packaging.utils import NormalizedName

PYPI_SIMPLE_URL = "https://pypi.org/simple/"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def expand_index_url(url: str, cuda: str | Sequence[str] | None) -> tuple[str, ...]:
    """``url`` with ``{cuda}`` filled in, each with a trailing slash.

    ``cuda`` is one CUDA tag ("cu121") or several in order of preference
    (:func:`bundler.target.cuda.index_tags`): a URL with ``{cuda}`` becomes one URL
    per tag, best first, so a CUDA-variant index that has no build for the
    image's exact CUDA falls back to the closest one the driver can run.
    Raises InputError for ``{cuda}`` without a CUDA tag or any other placeholder.
    """
    tags = (cuda,) if isinstance(cuda, str) else tuple(cuda or ())
    for match in _PLACEHOLDER.finditer(url):
        if match.group(1) != "cuda":
            raise InputError(f"unknown placeholder {match.group(0)} in index URL {url}")
        if not tags:
            raise InputError(
                f"index URL {url} needs a CUDA tag for {{cuda}}",
                hint="Use a target with CUDA (for example cu121) or drop the placeholder.",
            )
    expanded = [url.replace("{cuda}", tag) for tag in tags] if "{cuda}" in url else [url]
    return tuple(u if u.endswith("/") else u + "/" for u in expanded)


@dataclass(frozen=True)
class IndexConfig:
    """Where distributions come from.

    ``index_urls`` in priority order (the first index that knows a name
    supplies all its files, see :mod:`bundler.index.file_finder`), each may use
    a ``{cuda}`` placeholder filled from ``cuda`` (a tag such as "cu121", or
    tags in order of preference); ``find_links`` are local directories, local
    HTML files or HTML page URLs; ``pins`` maps a project name to the one
    index URL it may come from.
    """

    index_urls: tuple[str, ...] = (PYPI_SIMPLE_URL,)
    find_links: tuple[str, ...] = ()
    pins: Mapping[str, str] = field(default_factory=dict, hash=False)
    cuda: str | tuple[str, ...] | None = None
    #: Pinned projects that may fall back to the ordinary indexes (and so to
    #: an sdist to build) when no pinned index has them or none answers:
    #: ``--cuda-index``, whose wheel indexes cover some versions only.
    pin_fallback: frozenset[str] = frozenset()

    def expanded_index_urls(self) -> tuple[str, ...]:
        """The index URLs with placeholders filled (InputError when impossible)."""
        return tuple(u for url in self.index_urls for u in expand_index_url(url, self.cuda))

    def expanded_pins(self) -> dict[NormalizedName, tuple[str, ...]]:
        """Canonical project name → its index URLs, filled, best first."""
        return {canonicalize_name(k): expand_index_url(v, self.cuda) for k, v in self.pins.items()}
