"""``kbundle cache``: where the cache is, what it holds, and removing it."""

from __future__ import annotations

import json

import click

from bundler.cache import cache_dir
from bundler.cache_admin import (
    CI_PRUNED,
    SECTION_NAMES,
    SECTIONS,
    TEMPORARY,
    Usage,
    clean,
    prune,
    usage,
)
from bundler.cli.report import human_size, plain_table, plural
from bundler.cli.settings import settings, verbosity_options

#: What each usage holds, as `info` shows it.
_HOLDS = {s.name: s.holds for s in SECTIONS} | {
    TEMPORARY: "left by interrupted runs (`kbundle cache prune` removes them)"
}


@click.group("cache")
def cache() -> None:
    """Show and clear kbundle's cache ($KBUNDLE_CACHE_DIR, else the user cache folder).

    Libs already vendored keep working after a clean: their files are hard
    links (or copies), not references into the cache.
    """


@cache.command("dir")
@verbosity_options
def show_dir() -> None:
    """Print the cache's path."""
    click.echo(str(cache_dir()))


@cache.command("info")
@verbosity_options
@click.option("--json", "as_json", is_flag=True, help="Print the sections as JSON.")
def info(as_json: bool) -> None:
    """Show each section of the cache: what it holds, its size and file count."""
    found = usage(cache_dir())
    if as_json:
        click.echo(json.dumps(_usage_json(found), indent=2))
        return
    if settings().quiet:
        return
    click.echo(f"kbundle's cache: {found.root} ({_amount(found)})")
    rows = [
        (name, human_size(part.size), f"{part.files:,}", _HOLDS[name])
        for name, part in found.sections.items()
    ]
    click.echo("\n".join(plain_table(("section", "size", "files", "holds"), rows, right={1, 2})))
    _echo_linked(
        found,
        "is also hard-linked into libs: removing it from the cache frees that space "
        "only once those libs are gone too",
    )
    if found.foreign:
        click.echo("not kbundle's, left alone by a clean: " + ", ".join(found.foreign))


@cache.command("clean")
@verbosity_options
@click.argument("sections", nargs=-1, type=click.Choice(SECTION_NAMES), metavar="[SECTION]...")
def clean_command(sections: tuple[str, ...]) -> None:
    """Remove SECTIONs of the cache, or all of it.

    Waits for running kbundle commands to finish first. The next lock or
    vendor fetches (and builds) again what it needs.
    """
    removed = clean(cache_dir(), sections or None, on_wait=_waiting)
    _report(removed, "nothing to remove")
    if removed.foreign and not sections:
        click.echo("left alone, not kbundle's: " + ", ".join(removed.foreign))


@cache.command("prune")
@verbosity_options
@click.option(
    "--ci",
    is_flag=True,
    help=f"Also remove {', '.join(CI_PRUNED)}: quick to fetch again, big to store in a CI "
    "cache. Built wheels, index pages and metadata stay.",
)
def prune_command(ci: bool) -> None:
    """Remove what no later run needs: what interrupted runs left, failed builds,
    older cache layouts.

    Waits for running kbundle commands to finish first.
    """
    removed = prune(cache_dir(), ci=ci, on_wait=_waiting)
    _report(removed, "nothing to prune")


def _waiting() -> None:
    click.echo(
        f"kbundle: waiting for other kbundle commands using {cache_dir()} to finish", err=True
    )


def _report(removed: Usage, nothing: str) -> None:
    if settings().quiet:
        return
    if not removed.files:
        click.echo(f"{nothing} in {removed.root}")
        return
    parts = ", ".join(
        f"{name} {human_size(part.size)}" for name, part in removed.sections.items() if part.files
    )
    click.echo(f"removed {_amount(removed)} from {removed.root}: {parts}")
    _echo_linked(removed, "stays on disk in the libs that hard-link it, which keep working")


def _echo_linked(found: Usage, what: str) -> None:
    linked = sum(part.linked for part in found.sections.values())
    if linked:
        click.echo(f"{human_size(linked)} of it {what}")


def _amount(found: Usage) -> str:
    return f"{human_size(found.size)} in {plural(found.files, 'file')}"


def _usage_json(found: Usage) -> dict[str, object]:
    folders = {s.name: s.folder for s in SECTIONS}
    return {
        "root": str(found.root),
        "size": found.size,
        "files": found.files,
        "sections": [
            {
                "name": name,
                "folder": folders.get(name),
                "holds": _HOLDS[name],
                "size": part.size,
                "files": part.files,
                "linked": part.linked,
            }
            for name, part in found.sections.items()
        ],
        "foreign": list(found.foreign),
    }
