"""The example agent starts with exactly the snippet `kbundle vendor` prints."""

from __future__ import annotations

from bundler.vendor.bootstrap import SNIPPET
from tests.helpers.run import REPO


def test_main_py_uses_the_printed_snippet() -> None:
    main = (REPO / "examples" / "llama_agent" / "main.py").read_text()
    assert SNIPPET.rstrip("\n") in main


def test_readme_shows_the_printed_snippet() -> None:
    assert SNIPPET.rstrip("\n") in (REPO / "README.md").read_text()
