"""The index pip would use: PIP_INDEX_URL, then pip's configuration files in pip's order."""

from __future__ import annotations

import os
from pathlib import Path

from bundler.request.index_config import PYPI_SIMPLE_URL
from bundler.request.pip_config import default_index_url


def test_default_index_url_from_environment() -> None:
    assert default_index_url({"PIP_INDEX_URL": "https://a.test/simple"}) == "https://a.test/simple"
    assert default_index_url({"PIP_CONFIG_FILE": os.devnull}) == PYPI_SIMPLE_URL


def test_default_index_url_follows_pips_file_order(tmp_path: Path) -> None:
    def conf(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_DIRS": str(tmp_path / "xdg"),
        "VIRTUAL_ENV": str(tmp_path / "venv"),
    }
    conf(tmp_path / "xdg" / "pip" / "pip.conf", "[global]\nindex-url = https://xdg.test/\n")
    assert default_index_url(env) == "https://xdg.test/"
    conf(tmp_path / "home" / ".pip" / "pip.conf", "[global]\nindex_url = https://legacy.test/\n")
    assert default_index_url(env) == "https://legacy.test/"
    conf(tmp_path / "home" / ".config" / "pip" / "pip.conf", "[global]\nindex-url=https://u.test/")
    assert default_index_url(env) == "https://u.test/"
    conf(tmp_path / "venv" / "pip.conf", "[global]\nindex-url = https://venv.test/\n")
    assert default_index_url(env) == "https://venv.test/"
    conf(tmp_path / "env.conf", "[global]\nindex-url = https://env.test/\nextra-index-url = x\n")
    assert default_index_url({**env, "PIP_CONFIG_FILE": str(tmp_path / "env.conf")}) == (
        "https://env.test/"
    )
    # As for `pip install`, an [install] value beats every [global] one.
    conf(tmp_path / "xdg" / "pip" / "pip.conf", "[install]\nindex-url = https://install.test/\n")
    assert default_index_url(env) == "https://install.test/"
    conf(tmp_path / "venv" / "pip.conf", "not an ini file")
    assert default_index_url(env) == "https://install.test/"
