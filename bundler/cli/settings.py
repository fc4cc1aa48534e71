"""Options shared by every command, and the project configuration they read."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bundler.request.config import Config


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
            # Imported here: `kbundle --version` and --help need no packaging.
            from bundler.request.config import find_pyproject, load_config

            self._config = load_config(self.project or find_pyproject(Path.cwd()))
        return self._config


def settings() -> Settings:
    """The :class:`Settings` of the running command."""
    obj = click.get_current_context().find_object(Settings)
    return obj if obj is not None else Settings()


def setup_logging(verbose: int, quiet: bool) -> None:
    """Log to stderr: warnings by default, -v info, -vv debug, -q errors only."""
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose >= 1:
        level = logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("kbundle: %(message)s"))
    log = logging.getLogger("bundler")
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: object) -> None:
    if not value:
        return
    s = ctx.find_object(Settings)
    if s is None:
        return
    if param.name == "quiet":
        s.quiet = True
    else:
        s.verbose += int(value)  # type: ignore[call-overload]
    setup_logging(s.verbose, s.quiet)


def verbosity_options(func: click.decorators.FC) -> click.decorators.FC:
    """``-v``/``-q`` accepted after the command name too (``kbundle vendor -q``)."""
    func = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_set_verbosity,
        help="Only errors.",
    )(func)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_set_verbosity,
        help="More output (-vv for debug detail).",
    )(func)
