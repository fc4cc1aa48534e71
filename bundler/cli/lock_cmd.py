"""``kbundle lock``: resolve for a target and write a PEP 751 lock."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bundler.cache import use_cache
from bundler.cli.options import lock_inputs, replace_option
from bundler.cli.output_file import check_replacement, write_output
from bundler.cli.report import report_lock
from bundler.cli.settings import settings, verbosity_options
from bundler.lock.pylock_read import read_lock
from bundler.lock.pylock_write import render_lock
from bundler.lock.requirements_txt import render_requirements_txt
from bundler.lock.run import LockOutcome, run_lock
from bundler.request.assemble import request_target
from bundler.request.model import LockOptions
from bundler.request.relock import relock_request


def lock_json(outcome: LockOutcome, path: Path) -> dict[str, object]:
    lock = outcome.lock
    packages = []
    for p in lock.packages:
        artifact = p.wheel or p.sdist
        packages.append(
            {
                "name": p.name,
                "version": p.version,
                "source": p.source,
                "url": artifact.url if artifact else None,
                "sha256": artifact.sha256 if artifact else None,
                "size": artifact.size if artifact else None,
            }
        )
    return {
        "target": lock.target_name,
        "lock": str(path),
        "seconds": round(outcome.seconds, 3),
        "vendor_bytes": lock.vendor_bytes,
        "packages": packages,
        "notes": outcome.resolution.notes,
        "warnings": [*outcome.resolution.warnings, *outcome.warnings],
        "shadows": [c.to_json() for c in outcome.shadow_costs],
    }


@click.command("lock")
@verbosity_options
@click.argument("requirements", nargs=-1, metavar="[REQUIREMENT]...")
@lock_inputs
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Lock file to write (default: [tool.kbundle] lock, else lockfiles/pylock.<target>.toml).",
)
@click.option(
    "--export-requirements",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also write the vendored set as a pip-compile style requirements.txt with hashes.",
)
@replace_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def lock(
    requirements: tuple[str, ...],
    inputs: LockOptions,
    output: Path | None,
    export_requirements: Path | None,
    replace: bool,
    as_json: bool,
) -> None:
    """Resolve REQUIREMENTs for the target image and write a PEP 751 lock.

    The image's installed packages are candidates like any other: a version the
    image has is used whenever it satisfies every requirement, so only the rest
    is vendored. Markers, Requires-Python and wheel tags are evaluated for the
    target, never for this machine. An existing lock's pins are kept while
    they still fit (see --upgrade).
    """
    use_cache()  # a `kbundle cache clean` waits for this run, and it for a clean
    s = settings()
    config = s.config
    t = request_target(inputs, config)
    path = output or config.lock_path(t.name)
    existing = read_lock(path) if path.is_file() else None
    request = relock_request(inputs, config, requirements=requirements, target=t, existing=existing)
    replacing = check_replacement(existing, request, path, replace)
    outcome = run_lock(request)
    write_output(path, render_lock(outcome.lock).encode(), what="the lock", option="-o/--output")
    if export_requirements is not None:
        sources: dict[str, list[str]] = {}
        for req in (*request.requirements, *request.constraints):
            sources.setdefault(req.name, []).append(req.via)
        text = render_requirements_txt(
            outcome.lock, command=f"kbundle lock -o {path}", sources=sources
        )
        write_output(
            export_requirements,
            text.encode(),
            what="the requirements",
            option="--export-requirements",
        )
    if as_json:
        click.echo(json.dumps(lock_json(outcome, path), indent=2))
    if not s.quiet:
        report_lock(outcome, path, replacing)
