"""``kbundle lock``: resolve for a target and write a PEP 751 lock."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from packaging.utils import canonicalize_name

from bundler.cache import atomic_write
from bundler.cli.options import LockInputs, lock_inputs
from bundler.cli.settings import Settings, settings, verbosity_options
from bundler.config import Config
from bundler.cuda import CUDA_INDEXES, index_tags
from bundler.errors import InputError
from bundler.index import IndexConfig, default_index_url
from bundler.lock_model import Lock
from bundler.lockfile import read_lock, render_lock, render_requirements_txt
from bundler.locking import LockOutcome, LockRequest, run_lock
from bundler.presets import load_target
from bundler.requirements_file import (
    Req,
    RequirementsInput,
    parse_requirement_arg,
    parse_requirements_files,
)
from bundler.target import Target


def default_lock_path(config: Config, target: Target) -> Path:
    """``[tool.kbundle] lock``, else ``lockfiles/pylock.<target>.toml`` in the project."""
    if config.lock is not None:
        return config.lock
    root = config.path.parent if config.path is not None else Path.cwd()
    return root / "lockfiles" / f"pylock.{target.name}.toml"


def gather_request(
    s: Settings,
    *,
    target: Target,
    requirements: tuple[str, ...],
    inputs: LockInputs,
    previous: Lock | None,
    require_input: bool = True,
) -> LockRequest:
    """Merge command-line options over ``[tool.kbundle]`` into a LockRequest."""
    config = s.config
    files_input = RequirementsInput()
    files = [*inputs.requirement_files, *config.requirements_files]
    if files or inputs.constraint_files:
        files_input = parse_requirements_files(files)
    reqs: list[Req] = [parse_requirement_arg(text, "command line") for text in requirements]
    if not reqs and not files:
        reqs = [parse_requirement_arg(t, f"{config.path}") for t in config.requirements]
    reqs.extend(files_input.requirements)
    constraints = list(files_input.constraints)
    if inputs.constraint_files:
        constraints.extend(
            parse_requirements_files(list(inputs.constraint_files), constraint=True).constraints
        )
    if not reqs and require_input:
        raise InputError(
            "nothing to lock: give requirements as arguments, with -r FILE, or as "
            "[tool.kbundle] requirements in pyproject.toml",
            source="kbundle lock",
        )
    cuda_pins = cuda_index_pins((*config.cuda_index, *inputs.cuda_indexes))
    primary = inputs.index_url or files_input.index_url or config.index_url or default_index_url()
    extras = (*inputs.extra_index_urls, *files_input.extra_index_urls, *config.extra_index_urls)
    index = IndexConfig(
        index_urls=tuple(dict.fromkeys((primary, *extras))),
        find_links=tuple(
            dict.fromkeys((*inputs.find_links, *files_input.find_links, *config.find_links))
        ),
        pins={**config.index_pins, **cuda_pins},
        cuda=index_tags(target.cuda),
        pin_fallback=frozenset(cuda_pins),
    )
    allowed = {b if b == ":all:" else str(canonicalize_name(b)) for b in inputs.build}
    allowed |= set(config.build)
    return LockRequest(
        target=target,
        requirements=reqs,
        constraints=constraints,
        index=index,
        build=frozenset(allowed),
        pre=inputs.pre or files_input.pre,
        offline=inputs.offline,
        refresh=inputs.refresh,
        previous=previous,
        upgrade=inputs.upgrade,
        upgrade_packages=frozenset(canonicalize_name(n) for n in inputs.upgrade_packages),
    )


def cuda_index_pins(names: Sequence[str]) -> dict[str, str]:
    """``--cuda-index NAME``: NAME pinned to its known CUDA-variant wheel index."""
    pins = {}
    for name in names:
        key = str(canonicalize_name(name))
        if key not in CUDA_INDEXES:
            raise InputError(
                f"no CUDA wheel index is known for {name}",
                source="--cuda-index",
                hint="Known: " + ", ".join(sorted(CUDA_INDEXES)) + ". For another project, "
                "pin it in [tool.kbundle.index-pins] to a URL with {cuda}.",
            )
        pins[key] = CUDA_INDEXES[key]
    return pins


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def vendor_bytes(lock: Lock) -> int:
    """Bytes of the files the lock downloads (wheels, and sdists to build)."""
    return sum((artifact.size or 0) for p in lock.vendored if (artifact := p.wheel or p.sdist))


def report_table(outcome: LockOutcome, path: Path) -> None:
    """The human report, on stderr."""
    # rich is imported only to draw: --json and -q runs start faster.
    from rich.console import Console
    from rich.table import Table

    lock = outcome.lock
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("package", "version", "source", "size"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for p in lock.packages:
        artifact = p.wheel or p.sdist
        note = f" (shadows image {p.shadows})" if p.shadows else ""
        table.add_row(
            p.name, p.version, p.source + note, human_size(artifact.size) if artifact else "-"
        )
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    console.print(table)
    for note in outcome.resolution.notes:
        console.print(f"note: {note}", highlight=False)
    vendored = len(lock.vendored)
    console.print(
        f"{len(lock.packages)} packages for {lock.target_name}: {len(lock.image)} from the image, "
        f"{vendored} to vendor ({human_size(vendor_bytes(lock))}); "
        f"resolved in {outcome.seconds:.2f}s -> {path}",
        highlight=False,
    )


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
        "vendor_bytes": vendor_bytes(lock),
        "packages": packages,
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
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def lock(
    requirements: tuple[str, ...],
    inputs: LockInputs,
    output: Path | None,
    export_requirements: Path | None,
    as_json: bool,
) -> None:
    """Resolve REQUIREMENTs for the target image and write a PEP 751 lock.

    The image's installed packages are candidates like any other: a version the
    image has is used whenever it satisfies every requirement, so only the rest
    is vendored. Markers, Requires-Python and wheel tags are evaluated for the
    target, never for this machine. An existing lock's pins are kept while
    they still fit (see --upgrade).
    """
    s = settings()
    config = s.config
    t = load_target(inputs.target or config.target, inputs.manifest or config.manifest)
    path = output or default_lock_path(config, t)
    previous = read_lock(path) if path.is_file() and not inputs.upgrade else None
    request = gather_request(
        s, target=t, requirements=requirements, inputs=inputs, previous=previous
    )
    outcome = run_lock(request)
    atomic_write(path, render_lock(outcome.lock).encode())
    if export_requirements is not None:
        sources: dict[str, list[str]] = {}
        for req in (*request.requirements, *request.constraints):
            sources.setdefault(req.name, []).append(req.via)
        text = render_requirements_txt(
            outcome.lock, command=f"kbundle lock -o {path}", sources=sources
        )
        atomic_write(export_requirements, text.encode())
    if as_json:
        click.echo(json.dumps(lock_json(outcome, path), indent=2))
    if not s.quiet:
        report_table(outcome, path)
