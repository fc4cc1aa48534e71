"""``kbundle vendor``: fill a lib/ folder from a lock, ready to run offline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bundler.cache import use_cache
from bundler.cli.options import lock_inputs, replace_option
from bundler.cli.output_file import check_replacement, write_output
from bundler.cli.paths import FolderPath
from bundler.cli.progress import download_progress
from bundler.cli.report import (
    human_size,
    plural,
    print_notes,
    print_packages,
    report_console,
    report_lock,
    show_path,
)
from bundler.cli.settings import settings, verbosity_options
from bundler.errors import InputError
from bundler.lock.pylock_read import read_lock
from bundler.lock.pylock_write import render_lock
from bundler.lock.run import run_lock
from bundler.request.assemble import request_target
from bundler.request.model import LockOptions
from bundler.request.relock import plan_vendor_lock
from bundler.vendor.bootstrap import SNIPPET
from bundler.vendor.libdest import check_destination
from bundler.vendor.request import VendorRequest
from bundler.vendor.run import VendorOutcome, check_lock_matches_target, run_vendor
from bundler.vendor.wheelhouse import REQUIREMENTS, WheelhouseOutcome, run_wheelhouse
from bundler.vendor.wheelhouse import check_dest as check_wheelhouse


def _report(outcome: VendorOutcome) -> None:
    console = report_console()
    rows = [(p.name, p.version, p.source, human_size(p.bytes)) for p in outcome.packages]
    print_packages(console, "installed", rows)
    if outcome.image:
        provided = ", ".join(f"{p.name} {p.version}" for p in outcome.image)
        console.print(f"provided by the image (not copied): {provided}", highlight=False)
    print_notes(console, outcome.notes, outcome.warnings)
    console.print(
        f"vendored {plural(len(outcome.packages), 'package')} "
        f"({human_size(outcome.bytes)} installed) into {show_path(outcome.lib)} "
        f"in {outcome.seconds:.1f}s",
        highlight=False,
    )
    console.print("\nPut these lines at the top of main.py:\n", highlight=False)
    console.print(SNIPPET, highlight=False, markup=False)


def _report_wheelhouse(outcome: WheelhouseOutcome) -> None:
    console = report_console()
    rows = [(w.name, w.version, w.source, human_size(w.bytes)) for w in outcome.wheels]
    print_packages(console, "wheel", rows)
    print_notes(console, outcome.notes, outcome.warnings)
    total = sum(w.bytes for w in outcome.wheels)
    console.print(
        f"wrote {plural(len(outcome.wheels), 'wheel')} ({human_size(total)}) and "
        f"{REQUIREMENTS} into {show_path(outcome.folder)} in {outcome.seconds:.1f}s",
        highlight=False,
    )
    console.print("\nInstall them offline, in the image:\n", highlight=False)
    console.print(f"    {outcome.install_command}", highlight=False, markup=False)


def _wheelhouse_json(outcome: WheelhouseOutcome) -> dict[str, object]:
    return {
        "wheelhouse": str(outcome.folder),
        "seconds": round(outcome.seconds, 3),
        "install": outcome.install_command,
        "wheels": [
            {
                "name": w.name,
                "version": w.version,
                "source": w.source,
                "file": w.filename,
                "sha256": w.sha256,
                "bytes": w.bytes,
            }
            for w in outcome.wheels
        ],
    }


@click.command("vendor")
@verbosity_options
@click.argument("requirements", nargs=-1, metavar="[REQUIREMENT]...")
@click.option(
    "-t",
    "--lib",
    "lib",
    type=FolderPath(),
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
@replace_option
@click.option(
    "--wheelhouse",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Instead of a lib, write the locked wheels and a hash-pinned requirements.txt "
    "into DIR, for `pip install --no-index --find-links DIR -r DIR/requirements.txt`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace the lib folder even when it is not empty and not a kbundle lib "
    "(its contents are deleted).",
)
def vendor(
    requirements: tuple[str, ...],
    inputs: LockOptions,
    lib: Path | None,
    lock_path: Path | None,
    build_python: str | None,
    cpu_only: bool,
    jobs: int | None,
    replace: bool,
    wheelhouse: Path | None,
    as_json: bool,
    force: bool,
) -> None:
    """Download, build and install the locked packages into a lib/ folder.

    Only what the image lacks is installed; the image's own packages are not
    copied. The folder gets a `kbundle_boot.py` that activates it and a
    `kbundle.json` for `kbundle check`. The new lib replaces the old one only
    when it is complete: an interrupted or failed run leaves the old one.
    With --wheelhouse DIR, the same wheels go into DIR for an offline pip
    install instead.
    """
    use_cache()  # a `kbundle cache clean` waits for this run, and it for a clean
    s = settings()
    config = s.config
    if wheelhouse is not None and lib is not None:
        raise InputError(
            "-t writes a lib and --wheelhouse a folder of wheels: give one of them",
            source="--wheelhouse",
        )
    if wheelhouse is not None:
        check_wheelhouse(wheelhouse)  # before a lock is written for nothing
    t = request_target(inputs, config)
    path = lock_path or config.lock_path(t.name)
    if wheelhouse is None:
        lib = check_destination(lib or config.lib_path(), force=force)  # before any slow step
    existing = read_lock(path) if path.is_file() else None
    plan = plan_vendor_lock(
        inputs, config, requirements=requirements, target=t, path=path, existing=existing
    )
    request = plan.request
    lock = plan.reuse
    if lock is None:  # missing or out of date: lock first
        replacing = check_replacement(existing, request, path, replace)
        locked = run_lock(request)
        write_output(path, render_lock(locked.lock).encode(), what="the lock", option="--lock")
        if not s.quiet:
            report_lock(locked, path, replacing)
        lock = locked.lock
    check_lock_matches_target(lock, t, str(path))
    vendor_request = VendorRequest(
        lock=lock,
        target=t,
        lib=lib or config.lib_path(),
        index=request.index,
        build=request.build,
        build_python=build_python,
        cpu_only=cpu_only,
        offline=inputs.offline,
        jobs=jobs,
        offline_env=config.offline_env,
        force=force,
    )
    if wheelhouse is not None:
        with download_progress(not s.quiet) as progress:
            house = run_wheelhouse(vendor_request, wheelhouse, progress)
        if as_json:
            click.echo(json.dumps(_wheelhouse_json(house), indent=2))
        if not s.quiet:
            _report_wheelhouse(house)
        return
    with download_progress(not s.quiet) as progress:
        outcome = run_vendor(vendor_request, progress)
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
