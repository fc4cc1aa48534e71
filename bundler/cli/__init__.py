"""The ``kbundle`` command line: a thin click layer over the library.

Commands parse options, call the library and render results. Every
:class:`~bundler.errors.KbundleError` becomes one paragraph on stderr and its
exit code (2 for bad input, 1 for a failed job); nothing reaches the user as a
traceback unless ``KBUNDLE_DEBUG=1`` asks for one.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
from pathlib import Path
from typing import IO, Any

import click

from bundler import __version__
from bundler.cli.settings import Settings, setup_logging
from bundler.errors import KbundleError, environment_error

# Command name -> "module:attribute". Commands are imported only when run (or
# listed by --help): `kbundle vendor` need not load the ELF reader `check`
# uses, and every command starts faster.
_COMMANDS = {
    "target": "bundler.cli.target_cmd:target",
    "lock": "bundler.cli.lock_cmd:lock",
    "vendor": "bundler.cli.vendor_cmd:vendor",
    "check": "bundler.cli.check_cmd:check",
    "pack": "bundler.cli.pack_cmd:pack_command",
    "cache": "bundler.cli.cache_cmd:cache",
}

log = logging.getLogger("bundler")


class _ReportedError(click.ClickException):
    """A KbundleError on its way out through click, with its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares a ClassVar

    def show(self, file: IO[Any] | None = None) -> None:
        # One line, unwrapped: paths and commands in it stay copy-pasteable.
        click.echo(f"kbundle: error: {self.message}", err=True)


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = _COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module, _, attribute = spec.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # click says only "No such command"; a near miss (`kbundle chek`) gets
        # the command meant, the way click suggests a misspelt option.
        name = click.utils.make_str(args[0]) if args else ""
        if args and name not in _COMMANDS and not name.startswith("-"):
            close = difflib.get_close_matches(name, list(_COMMANDS), n=1)
            if close:
                ctx.fail(f"No such command {name!r}. Did you mean {close[0]!r}?")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KbundleError as exc:
            log.debug("error detail", exc_info=True)
            raise _ReportedError(str(exc), exc.exit_code) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("KBUNDLE_DEBUG"):
                raise
            if isinstance(exc, OSError):
                # A full disk, a read-only mount, a permission: the machine's
                # state, not a bug. Steps that know more raised their own error.
                from bundler.cache import cache_dir

                error = environment_error(exc, cache_dir())
                if error is not None:
                    log.debug("error detail", exc_info=True)
                    raise _ReportedError(str(error), error.exit_code) from exc
            raise _ReportedError(
                f"internal error: {type(exc).__name__}: {exc}. This is a bug in kbundle; "
                "run again with KBUNDLE_DEBUG=1 to see the traceback and report it.",
                3,
            ) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="kbundle")
@click.option("-v", "--verbose", count=True, help="More output (-vv for debug detail).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option(
    "--project",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The pyproject.toml whose [tool.kbundle] table to use "
    "(default: the nearest one from the current folder up).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, project: Path | None) -> None:
    """Lock, vendor and check Python dependencies for a fixed offline image.

    kbundle resolves for a TARGET image (a preset such as kaggle-t4, or one
    captured from a live interpreter), reuses what the image already has and
    vendors only the rest into a lib/ folder that works offline.
    """
    setup_logging(verbose, quiet)
    ctx.obj = Settings(quiet=quiet, verbose=verbose, project=project)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="kbundle")
