"""``kbundle vendor``: fill a lib/ folder from a lock, ready to run offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bundler.bootstrap import SNIPPET
from bundler.cache import atomic_write
from bundler.cli.lock_cmd import default_lock_path, gather_request, human_size, report_table
from bundler.cli.options import LockInputs, lock_inputs
from bundler.cli.progress import download_progress
from bundler.cli.settings import settings, verbosity_options
from bundler.config import Config
from bundler.lockfile import read_lock, render_lock
from bundler.locking import run_lock
from bundler.presets import load_target
from bundler.vendoring import VendorOutcome, VendorRequest, check_lock_matches_target, run_vendor


def default_lib(config: Config) -> Path:
    """``[tool.kbundle] lib``, else ``submission/lib`` in the project."""
    if config.lib is not None:
        return config.lib
    root = config.path.parent if config.path is not None else Path.cwd()
    return root / "submission" / "lib"


def _report(outcome: VendorOutcome) -> None:
    # rich is imported only to draw: --json and -q runs start faster.
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("package", "version", "source", "size"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for p in outcome.packages:
        table.add_row(p.name, p.version, p.source, human_size(p.bytes))
    console.print(table)
    if outcome.image:
        provided = ", ".join(f"{p.name} {p.version}" for p in outcome.image)
        console.print(f"provided by the image (not copied): {provided}", highlight=False)
    for note in outcome.notes:
        console.print(f"note: {note}", highlight=False)
    for warning in outcome.warnings:
        console.print(f"warning: {warning}", style="yellow", highlight=False)
    console.print(
        f"vendored {len(outcome.packages)} packages, {human_size(outcome.bytes)}, into "
        f"{outcome.lib} in {outcome.seconds:.1f}s",
        highlight=False,
    )
    console.print("\nPut these lines at the top of main.py:\n", highlight=False)
    console.print(SNIPPET, highlight=False, markup=False)


@click.command("vendor")
@verbosity_options
@click.argument("requirements", nargs=-1, metavar="[REQUIREMENT]...")
@click.option(
    "-t",
    "--lib",
    "lib",
    type=click.Path(path_type=Path, file_okay=False),
    help="The lib folder to fill (default: [tool.kbundle] lib, else submission/lib).",
)
@click.option(
    "--lock",
    "lock_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The lock to vendor (default: [tool.kbundle] lock, else "
    "lockfiles/pylock.<target>.toml; locked first when missing or when requirements "
    "are given).",
)
@lock_inputs
@click.option(
    "--build-python",
    type=str,
    metavar="PATH",
    help="Interpreter that runs source builds (must match the target's Python X.Y for "
    "wheels tied to the Python ABI), e.g. a pyenv python3.10.",
)
@click.option(
    "--cpu",
    "cpu_only",
    is_flag=True,
    help="Build GPU-capable packages (llama-cpp-python) for the CPU only.",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Parallel build jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def vendor(
    requirements: tuple[str, ...],
    inputs: LockInputs,
    lib: Path | None,
    lock_path: Path | None,
    build_python: str | None,
    cpu_only: bool,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Download, build and install the locked packages into a lib/ folder.

    Only what the image lacks is installed; the image's own packages are not
    copied. The folder gets a `kbundle_boot.py` that activates it and a
    `kbundle.json` for `kbundle check`. The new lib replaces the old one only
    when it is complete: an interrupted or failed run leaves the old one.
    """
    s = settings()
    config = s.config
    t = load_target(inputs.target or config.target, inputs.manifest or config.manifest)
    path = lock_path or default_lock_path(config, t)
    # Lock first when there is no lock yet or new requirements are given
    # (keeping the existing pins that still fit, as `kbundle lock` does).
    relock = bool(requirements or inputs.requirement_files) or not path.is_file()
    previous = read_lock(path) if relock and path.is_file() and not inputs.upgrade else None
    request = gather_request(
        s,
        target=t,
        requirements=requirements,
        inputs=inputs,
        previous=previous,
        require_input=relock,
    )
    if relock:
        locked = run_lock(request)
        atomic_write(path, render_lock(locked.lock).encode())
        if not s.quiet:
            report_table(locked, path)
        lock = locked.lock
    else:
        lock = read_lock(path)
    check_lock_matches_target(lock, t, str(path))
    with download_progress(not s.quiet) as progress:
        outcome = run_vendor(
            VendorRequest(
                lock=lock,
                target=t,
                lib=lib or default_lib(config),
                index=request.index,
                build=request.build,
                build_python=build_python,
                cpu_only=cpu_only,
                offline=inputs.offline,
                jobs=jobs,
            ),
            progress,
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "lib": str(outcome.lib),
                    "seconds": round(outcome.seconds, 3),
                    "bytes": outcome.bytes,
                    "packages": [
                        {"name": p.name, "version": p.version, "source": p.source, "bytes": p.bytes}
                        for p in outcome.packages
                    ],
                },
                indent=2,
            )
        )
    if not s.quiet:
        _report(outcome)
