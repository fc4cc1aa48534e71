"""Options shared by every command, and the project configuration they read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from bundler.config import Config, find_pyproject, load_config


@dataclass
class Settings:
    """Global options; the ``[tool.kbundle]`` configuration is read on first use."""

    quiet: bool = False
    verbose: int = 0
    project: Path | None = None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.project or find_pyproject(Path.cwd()))
        return self._config


def settings() -> Settings:
    """The :class:`Settings` of the running command."""
    obj = click.get_current_context().find_object(Settings)
    return obj if obj is not None else Settings()
