"""``kbundle pack``: write submission.tar.gz from a submission folder."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.cli.lock_cmd import human_size
from bundler.cli.settings import settings, verbosity_options
from bundler.pack import pack, parse_add
from bundler.presets import load_target


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
@click.option(
    "--target",
    "target",
    metavar="NAME|FILE",
    help="Also enforce this target's unpacked-size limit (e.g. aws-lambda-py312-x86_64: "
    "250 MB); default: [tool.kbundle] target.",
)
def pack_command(
    source: Path, output: Path, additions: tuple[str, ...], target: str | None
) -> None:
    """Pack SOURCE (main.py at its root, lib/ beside it) into a Kaggle submission.

    Entries are sorted and their owner and times normalised, so the same
    folder gives the same archive; above Kaggle's 20 GB limit it is an error,
    and so is exceeding the target's unpacked-size limit, if it has one.
    """
    spec = target or settings().config.target
    t = load_target(spec) if spec else None
    limit = (t.name, t.unpacked_size_limit) if t and t.unpacked_size_limit else None
    result = pack(source, output, [parse_add(a) for a in additions], unpacked_limit=limit)
    if not settings().quiet:
        click.echo(
            f"packed {result.files} files ({human_size(result.input_bytes)}) into "
            f"{result.output}: {human_size(result.output_bytes)} with {result.compressor}",
            err=True,
        )
