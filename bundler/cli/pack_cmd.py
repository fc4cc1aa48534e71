"""``kbundle pack``: write submission.tar.gz from a submission folder."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.cli.lock_cmd import human_size
from bundler.cli.settings import settings, verbosity_options
from bundler.pack import pack, parse_add


@click.command("pack")
@verbosity_options
@click.argument("source", type=click.Path(path_type=Path, file_okay=False), default="submission")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default="submission.tar.gz",
    show_default=True,
    help="The archive to write.",
)
@click.option(
    "--add",
    "additions",
    multiple=True,
    metavar="PATH[:ARCNAME]",
    help="Also add a file or folder (e.g. the model), under ARCNAME if given.",
)
def pack_command(source: Path, output: Path, additions: tuple[str, ...]) -> None:
    """Pack SOURCE (main.py at its root, lib/ beside it) into a Kaggle submission.

    Entries are sorted and their owner and times normalised, so the same
    folder gives the same archive; above Kaggle's 20 GB limit it is an error.
    """
    result = pack(source, output, [parse_add(a) for a in additions])
    if not settings().quiet:
        click.echo(
            f"packed {result.files} files ({human_size(result.input_bytes)}) into "
            f"{result.output}: {human_size(result.output_bytes)} with {result.compressor}",
            err=True,
        )
