"""Index settings: {cuda} placeholders, pins, the default index."""

from __future__ import annotations

import pytest

from bundler.errors import InputError
from bundler.request.index_config import PYPI_SIMPLE_URL, IndexConfig, expand_index_url


def test_expand_index_url() -> None:
    assert expand_index_url("https://x.test/whl/{cuda}", "cu121") == ("https://x.test/whl/cu121/",)
    assert expand_index_url("https://x.test/simple/", None) == ("https://x.test/simple/",)
    # Several tags: one URL each, in the order of preference given.
    assert expand_index_url("https://x.test/whl/{cuda}", ("cu128", "cu124")) == (
        "https://x.test/whl/cu128/",
        "https://x.test/whl/cu124/",
    )
    assert expand_index_url("https://x.test/simple", ("cu128", "cu124")) == (
        "https://x.test/simple/",
    )
    with pytest.raises(InputError, match=r"https://x.test/whl/\{cuda\}"):
        expand_index_url("https://x.test/whl/{cuda}", None)
    with pytest.raises(InputError, match="unknown placeholder"):
        expand_index_url("https://x.test/{rocm}/", "cu121")


def test_index_config_fills_placeholders_and_canonicalises_pins() -> None:
    config = IndexConfig(
        index_urls=("https://x.test/simple", "https://x.test/whl/{cuda}"),
        pins={"Torch_Stuff": "https://x.test/whl/{cuda}"},
        cuda=("cu124", "cu121"),
    )
    assert config.expanded_index_urls() == (
        "https://x.test/simple/",
        "https://x.test/whl/cu124/",
        "https://x.test/whl/cu121/",
    )
    assert config.expanded_pins() == {
        "torch-stuff": ("https://x.test/whl/cu124/", "https://x.test/whl/cu121/")
    }
    assert IndexConfig().index_urls == (PYPI_SIMPLE_URL,)
