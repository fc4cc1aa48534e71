"""The index pip would use, read from pip's environment and configuration files.

kbundle honours one pip setting, the index URL, so that a machine set up for
a private mirror locks against it without being told twice. Extra indexes and
find-links from pip's configuration are deliberately not used: they would
change which index wins a name (see :mod:`bundler.index.file_finder`)
behind the user's back.
"""

from __future__ import annotations

import configparser
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from bundler.request.index_config import PYPI_SIMPLE_URL

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)


def default_index_url(environ: Mapping[str, str] = os.environ) -> str:
    """The index pip would use: ``PIP_INDEX_URL``, else ``index-url`` from pip's
    configuration files, else PyPI.

    Files are read in pip's order, later ones winning: ``$XDG_CONFIG_DIRS``
    (``/etc/xdg``)``/pip/pip.conf``, ``/etc/pip.conf``, ``~/.pip/pip.conf``,
    ``~/.config/pip/pip.conf``, ``$VIRTUAL_ENV/pip.conf``, ``$PIP_CONFIG_FILE``
    (``os.devnull`` disables them all). As for ``pip install``, an
    ``[install]`` value beats a ``[global]`` one.
    """
    if value := environ.get("PIP_INDEX_URL", "").strip():
        return value
    found: dict[str, str] = {}
    for path in _pip_config_files(environ):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            log.debug("ignoring unreadable pip configuration %s: %s", path, exc)
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for key, value in parser.items(section):
                    if key.replace("_", "-") == "index-url" and value.strip():
                        found[section] = value.strip()
    return found.get("install") or found.get("global") or PYPI_SIMPLE_URL


def _pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    config_file = environ.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(directory, "pip", "pip.conf") for directory in xdg_dirs.split(":") if directory]
    files.append(Path("/etc/pip.conf"))
    # pip skips the user's files when PIP_CONFIG_FILE names an existing file.
    if not (config_file and Path(config_file).exists()):
        home = Path(environ.get("HOME") or Path.home())
        files.append(home / ".pip" / "pip.conf")
        files.append(Path(environ.get("XDG_CONFIG_HOME") or home / ".config", "pip", "pip.conf"))
    if virtual_env := environ.get("VIRTUAL_ENV"):
        files.append(Path(virtual_env, "pip.conf"))
    if config_file:
        files.append(Path(config_file))
    return files
