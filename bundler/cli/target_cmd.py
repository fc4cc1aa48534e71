"""``kbundle target``: list, show and capture target environments."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bundler.cli.output_file import write_output
from bundler.cli.report import plain_table
from bundler.cli.settings import settings, verbosity_options
from bundler.target.capture import run_probe, target_from_facts
from bundler.target.file import render_target_toml
from bundler.target.model import Target
from bundler.target.presets import (
    DEFAULT_TARGET,
    aliases_of,
    load_preset,
    load_target,
    preset_names,
)


@click.group()
def target() -> None:
    """Describe where the code will run: presets, files, live interpreters."""


def _cuda_summary(t: Target) -> str:
    if t.cuda is None:
        return "-"
    runtime = t.cuda.runtime or "?"
    return f"{runtime} (driver ≤ {t.cuda.driver_max})" if t.cuda.driver_max else runtime


def _size_limit(t: Target) -> str:
    if t.unpacked_size_limit is None:
        return "-"
    return f"{t.unpacked_size_limit:,} bytes unpacked"


@target.command("list")
@verbosity_options
def list_targets() -> None:
    """Show the target presets shipped with kbundle."""
    header = ("name", "python", "arch", "glibc", "cuda", "gpus", "packages", "description")
    rows = []
    for name in preset_names():
        t = load_preset(name)
        label = name + "".join(f", {a}" for a in aliases_of(name))
        if name == DEFAULT_TARGET:
            label += " (default)"
        gpus = ", ".join(t.cuda.archs) if t.cuda and t.cuda.archs else "-"
        packages = f"{len(t.installed)}{'+' if t.partial else ''}"
        rows.append(
            (
                label,
                t.python_full_version,
                t.arch,
                t.glibc or "-",
                _cuda_summary(t),
                gpus,
                packages,
                t.description,
            )
        )
    if not sys.stdout.isatty():
        # A pipe or a file gets one preset a line, whole: `kbundle target list | grep t4`.
        click.echo("\n".join(plain_table(header, rows)))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=None, box=None, pad_edge=False)
    for column in header:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(soft_wrap=False).print(table)


@target.command("show")
@verbosity_options
@click.argument("spec", metavar="NAME|FILE", required=False)
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Installed packages of the image (pip freeze, pip list --format=json or a "
    "kbundle capture); replaces the target's own list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole target as JSON.")
def show(spec: str | None, manifest: Path | None, as_json: bool) -> None:
    """Print everything kbundle knows about a target.

    NAME|FILE is a preset, an alias or a target file; without it, the
    [tool.kbundle] target, else the built-in default (marked in `kbundle target list`).
    """
    config = settings().config
    t = load_target(spec or config.target, manifest or config.manifest, consistent=False)
    if as_json:
        click.echo(json.dumps(t.to_json(), indent=2))
        return
    lines = [
        f"name:         {t.name}",
        f"description:  {t.description}",
        f"python:       {t.python_full_version} ({t.implementation}, abi {t.abi})",
        f"platform:     {t.os} {t.arch}, {t.libc} {t.glibc or '?'}",
        f"cuda:         {_cuda_summary(t)}"
        + (f", GPU archs {', '.join(t.cuda.archs)}" if t.cuda and t.cuda.archs else ""),
        f"best tag:     {t.tags[0]}  ({len(t.tags)} tags)",
        f"preloaded:    {', '.join(t.preloaded) or '-'}",
        f"installed:    {len(t.installed)} distributions{' (partial list)' if t.partial else ''}",
        f"libraries:    {len(t.provided_libraries)} sonames",
        f"size limit:   {_size_limit(t)}",
        f"fingerprint:  {t.fingerprint}",
    ]
    lines += [f"source:       {s}" for s in t.sources]
    click.echo("\n".join(lines))


@target.command("capture")
@verbosity_options
@click.option(
    "--python",
    "python",
    default=sys.executable,
    show_default="the running interpreter",
    help="The interpreter to describe (the image's python).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="Write the target file here (default: print it).",
)
@click.option("--name", help="Target name (default: the output file's stem, else 'captured').")
@click.option(
    "--preloaded",
    multiple=True,
    help="Distributions the host process imports before user code (comma-separated or "
    "repeated), e.g. torch,transformers.",
)
def capture(python: str, output: Path | None, name: str | None, preloaded: tuple[str, ...]) -> None:
    """Capture a live interpreter as a target file (run it in the image, e.g. a notebook)."""
    names = [n.strip() for item in preloaded for n in item.split(",") if n.strip()]
    facts = run_probe(python)
    default_name = output.name.split(".")[0] if output else "captured"
    t = target_from_facts(facts, name=name or default_name, preloaded=names)
    if missing := [n for n in t.preloaded if n not in t.installed]:
        # Lock, vendor and check refuse such a target; say so now, not later.
        click.echo(
            f"kbundle: warning: --preloaded names {', '.join(missing)}, which {python} does "
            "not have installed; lock, vendor and check refuse this target until it does",
            err=True,
        )
    text = render_target_toml(
        t, header="# kbundle target captured by `kbundle target capture`; safe to commit.\n"
    )
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text.encode(), what="the target file", option="-o/--output")
    if settings().quiet:
        return
    cuda = f", CUDA {_cuda_summary(t)}" if t.cuda else ", no CUDA"
    click.echo(
        f"captured {t.name}: Python {t.python_full_version}, {t.libc} {t.glibc or '?'}{cuda}, "
        f"{len(t.installed)} distributions -> {output}",
        err=True,
    )
